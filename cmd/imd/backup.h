/*
 * backup — a data directory into one tar file while imd runs, and back.
 *
 * The archive holds im.db (a consistent copy, made with SQLite's online
 * backup API inside one read transaction, so writers go on), the
 * attachments that copy refers to (files/ab/abcd...), and cert.pem and
 * key.pem when they are in the directory. tar(1) writes and reads it.
 */
#ifndef IMD_BACKUP_H
#define IMD_BACKUP_H

/*
 * Write the archive of DIR to FILE (made 0600 under a temporary name,
 * then renamed). Returns 0, or an exit status from <sysexits.h> after
 * printing why on stderr.
 */
int backup_write(const char *dir, const char *file);

/*
 * Make NEWDIR (absent or empty) from the archive FILE: dirs 0700, files
 * 0600, nothing but plain files and directories, the database checked and
 * every attachment's SHA-256 matching its name. On failure NEWDIR is left
 * empty. Returns 0 or an exit status, as above.
 */
int backup_restore(const char *file, const char *newdir);

#endif
