#!/bin/bash
test_description='imvoice: synthesized audio round-trips as Ogg Vorbis; stdin; no device; empty, silent and unreadable input; play'
. "$(dirname "$0")/lib.sh"

for t in sox espeak-ng; do
	if ! command -v $t >/dev/null; then
		echo "1..0 # SKIP $t is not installed"
		test_done_called=1
		exit 0
	fi
done
if ! test -x "$IM_BIN/imvoice"; then
	echo "Bail out! $IM_BIN/imvoice is not built (run make)"
	exit 1
fi

# imvoice's temporary files go here, so we can see that none is left behind
export TMPDIR=$TRASH/tmp
mkdir -p "$TMPDIR"
# this machine's sound set-up must not matter (tests that want a "device" set these)
unset AUDIODRIVER AUDIODEV PULSE_SERVER

# stat_of FILE KEY: a value of "sox FILE -n stat" ("Length", "RMS *amplitude", ...)
stat_of () {
	sox "$1" -n stat 2>&1 | awk -F: -v k="^$2" '$1 ~ k { gsub(/ /, "", $2); print $2; exit }'
}

# within PCT A B: A is within PCT percent of B
within () {
	awk -v p="$1" -v a="$2" -v b="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= b * p / 100) }' || {
		echo "within: $2 is not within $1% of $3" >&9
		return 1
	}
}

# above A B: A > B (decimals)
above () {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }' || {
		echo "above: $1 is not above $2" >&9
		return 1
	}
}

# no_tmp_left: imvoice removed every temporary file it made (libpulse may
# leave a pulse-* directory of its own there: not ours)
no_tmp_left () {
	{ ls -A "$TMPDIR" | grep "^imvoice-" >tmpleft; test $? -le 1; } &&
	test_must_be_empty tmpleft
}

test_expect_success 'setup: imd, alice, bob, carol; group ops of alice and bob' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	make_user carol &&
	test "$(api alice POST /v1/groups --json "{\"group\":\"ops\"}")" = 201 &&
	test "$(api alice POST /v1/groups/ops/members --json "{\"users\":[\"bob\"]}")" = 200
'

test_expect_success 'a 3 s 44.1 kHz stereo sine from a file: sent as a voice message' '
	sox -n -r 44100 -c 2 sine.wav synth 3 sine 440 &&
	as_user alice imvoice -i sine.wav bob --json >msg 2>err &&
	test_must_be_empty err &&
	test_one_line msg &&
	jq -e ".kind == \"voice\" and .from == \"alice\" and .to == \"bob\"
		and .file.type == \"audio/ogg\" and (.file.id | type == \"string\")
		and (.file.size > 0)" msg &&
	within 5 "$(jq .duration msg)" "$(stat_of sine.wav Length)" &&
	no_tmp_left
'

test_expect_success 'encoded compactly: mono, 16 kHz, Ogg Vorbis, well under the WAV size' '
	imcurl -f -H "$(bearer bob)" -o got.ogg "$URL/v1/files/$(jq -r .file.id msg)" &&
	soxi got.ogg >info &&
	test_grep "^Channels +: 1$" info &&
	test_grep "^Sample Rate +: 16000$" info &&
	test_grep "Vorbis" info &&
	test "$(stat -c %s got.ogg)" -lt $(($(stat -c %s sine.wav) / 20))
'

test_expect_success 'bob: imvoice play ID -o out.ogg writes it as sent; it decodes, lasts as long, is not silence' '
	id=$(jq .id msg) &&
	as_user bob imvoice play "$id" -o out.ogg >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	cmp got.ogg out.ogg &&
	test "$(sha256sum <out.ogg | cut -d" " -f1)" = "$(jq -r .file.sha256 msg)" &&
	within 5 "$(stat_of out.ogg Length)" "$(stat_of sine.wav Length)" &&
	above "$(stat_of out.ogg "RMS +amplitude")" 0.3 &&
	no_tmp_left
'

test_expect_success 'play -o FILE.wav converts; -o - writes the Ogg to stdout' '
	as_user bob imvoice play "$id" -o out.wav &&
	soxi out.wav | test_grep "WAV|wav" /dev/stdin &&
	within 5 "$(stat_of out.wav Length)" 3 &&
	above "$(stat_of out.wav "RMS +amplitude")" 0.3 &&
	as_user bob imvoice play "$id" -o - >stdout.ogg &&
	cmp got.ogg stdout.ogg
'

test_expect_success 'play -o FILE with an extension sox cannot write: usage error, no file' '
	expect_exit 64 as_user bob imvoice play "$id" -o out.nosuch 2>err &&
	test_grep "nosuch" err &&
	! test -e out.nosuch
'

test_expect_success 'espeak-ng through stdin (-i -) to a group: the type is told from the content' '
	espeak-ng -w speech.wav "build failed on the main branch" &&
	espeak-ng -w /dev/stdout "build failed on the main branch" |
		as_user alice imvoice -i - -g ops --json >gmsg 2>err &&
	test_must_be_empty err &&
	jq -e ".kind == \"voice\" and .group == \"ops\" and (has(\"to\") | not)" gmsg &&
	within 5 "$(jq .duration gmsg)" "$(stat_of speech.wav Length)" &&
	as_user bob imvoice play "$(jq .id gmsg)" -o speech.ogg &&
	within 5 "$(stat_of speech.ogg Length)" "$(stat_of speech.wav Length)" &&
	above "$(stat_of speech.ogg "RMS +amplitude")" 0.02 &&
	no_tmp_left
'

test_expect_success 'bob sees both voice messages in his history; carol sees none' '
	history_of bob | jq -r "select(.kind == \"voice\") | .id" >ids &&
	test_line_count = 2 ids &&
	test "$(message_count carol)" = 0
'

test_expect_success '-t SECONDS keeps only the first SECONDS of the input' '
	as_user alice imvoice -t 1.5 -i sine.wav bob --json >msg2 &&
	within 5 "$(jq .duration msg2)" 1.5
'

test_expect_success 'silent on success without --json' '
	as_user alice imvoice -i sine.wav bob >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err
'

test_expect_success 'no audio device and no -i: exit 69, a clear message, nothing sent' '
	before=$(message_count bob) &&
	expect_exit 69 as_user alice env -u PULSE_SERVER -u AUDIODRIVER AUDIODEV=/nonexistent \
		"$IM_BIN/imvoice" bob >out 2>err &&
	test_must_be_empty out &&
	test_one_line err &&
	test_grep "^imvoice: no audio input device \(.*\); use -i FILE" err &&
	test_no_grep "ALSA lib" err &&
	test "$(message_count bob)" = "$before" &&
	no_tmp_left
'

test_expect_success 'an empty input (0 samples): exit 65 "empty recording", nothing sent' '
	sox -n -r 16000 -c 1 empty.wav trim 0 0 &&
	before=$(message_count bob) &&
	expect_exit 65 as_user alice imvoice -i empty.wav bob 2>err &&
	test_grep "^imvoice: empty recording" err &&
	: >nothing &&
	expect_exit 65 as_user alice imvoice -i - bob <nothing 2>err &&
	test_grep "^imvoice: empty recording" err &&
	test "$(message_count bob)" = "$before" &&
	no_tmp_left
'

test_expect_success 'digital silence (every sample zero): exit 65, nothing sent' '
	sox -n -r 16000 -c 1 zero.wav trim 0 2 &&
	before=$(message_count bob) &&
	expect_exit 65 as_user alice imvoice -i zero.wav bob 2>err &&
	test_grep "^imvoice: the recording is silent" err &&
	test "$(message_count bob)" = "$before"
'

test_expect_success 'a missing input file: exit 66 naming it; a directory: 66; not audio: 65' '
	before=$(message_count bob) &&
	expect_exit 66 as_user alice imvoice -i no-such.wav bob 2>err &&
	test_grep "^imvoice: cannot read .no-such\.wav.: No such file" err &&
	mkdir adir &&
	expect_exit 66 as_user alice imvoice -i adir bob 2>err &&
	test_grep "^imvoice: cannot read .adir.: it is a directory" err &&
	echo "just some text, not audio" >notes.txt &&
	expect_exit 65 as_user alice imvoice -i notes.txt bob 2>err &&
	test_grep "^imvoice: cannot decode .notes\.txt. as audio" err &&
	expect_exit 65 as_user alice imvoice -i - bob <notes.txt 2>err &&
	test_grep "^imvoice: cannot decode .stdin. as audio .*--type" err &&
	test "$(message_count bob)" = "$before" &&
	no_tmp_left
'

test_expect_success 'a file readable by nobody but root (run as nobody if root): exit 66' '
	cp sine.wav secret.wav && chmod 600 secret.wav &&
	if test "$(id -u)" = 0; then
		cp -r "$(home_of alice)" nobody-home && chown -R nobody nobody-home &&
		IM_DIR=$PWD/nobody-home expect_exit 66 setpriv --reuid=nobody --regid=nogroup \
			--clear-groups "$IM_BIN/imvoice" -i "$PWD/secret.wav" bob 2>err
	else
		chmod 000 secret.wav &&
		expect_exit 66 as_user alice imvoice -i secret.wav bob 2>err
	fi &&
	test_grep "cannot read .*secret\.wav.: Permission denied" err
'

test_expect_success '--type names a format sox cannot tell from the content' '
	sox -n -r 16000 -c 1 -t au - synth 1 sine 300 >tone.au &&
	as_user alice imvoice -i - --type au bob --json <tone.au >msg3 &&
	within 5 "$(jq .duration msg3)" 1 &&
	expect_exit 64 as_user alice imvoice -i - --type nosuchformat bob <tone.au 2>err &&
	test_grep "nosuchformat" err
'

# clip_made: imvoice has made its temporary Ogg file (so it is recording)
clip_made () { ls "$TMPDIR"/imvoice-* >/dev/null 2>&1; }

test_expect_success 'SIGINT ends a recording from a device, which is then sent (a FIFO stands in for the device)' '
	mkfifo dev.fifo || return 1
	{ sox -n -r 44100 -c 2 -b 16 -t wav - synth 1 sine 440 2>/dev/null && sleep 20; } >dev.fifo &
	writer=$!
	IM_DIR=$(home_of alice) AUDIODRIVER=wav AUDIODEV=$PWD/dev.fifo \
		"$IM_BIN/imvoice" bob --json >sig.json 2>sig.err &
	rec=$!
	mode=
	{ wait_for 10 clip_made && mode=$(stat -c %a "$TMPDIR"/imvoice-*) && sleep 1; }
	kill -INT $rec
	wait $rec
	rc=$?
	_kill_tree $writer
	wait $writer 2>/dev/null
	test "$rc" = 0 &&
	test "$mode" = 600 &&
	test_must_be_empty sig.err &&
	jq -e ".kind == \"voice\" and .to == \"bob\"" sig.json &&
	within 5 "$(jq .duration sig.json)" 1 &&
	no_tmp_left
'

test_expect_success 'SIGTERM while recording gives up: dies of it, nothing sent, nothing left' '
	before=$(message_count bob) && rm -f dev.fifo && mkfifo dev.fifo || return 1
	{ sox -n -r 16000 -c 1 -b 16 -t wav - synth 0.5 sine 440 2>/dev/null && sleep 20; } >dev.fifo &
	writer=$!
	IM_DIR=$(home_of alice) AUDIODRIVER=wav AUDIODEV=$PWD/dev.fifo \
		"$IM_BIN/imvoice" bob >out 2>err &
	rec=$!
	wait_for 10 clip_made
	kill -TERM $rec
	wait $rec
	rc=$?
	_kill_tree $writer
	wait $writer 2>/dev/null
	test "$rc" = 143 &&
	test "$(message_count bob)" = "$before" &&
	no_tmp_left
'

test_expect_success 'play with no audio output device: exit 69, says to use -o FILE' '
	expect_exit 69 as_user bob env -u PULSE_SERVER -u AUDIODRIVER AUDIODEV=/nonexistent \
		"$IM_BIN/imvoice" play "$id" >out 2>err &&
	test_one_line err &&
	test_grep "^imvoice: no audio output device \(.*\); use -o FILE" err &&
	no_tmp_left
'

test_expect_success 'play: not a voice message, no such message, not visible to carol: exit 65' '
	tid=$(as_user alice imsend --json bob "just text" | jq .id) &&
	expect_exit 65 as_user bob imvoice play "$tid" -o x.ogg 2>err &&
	test_grep "not a voice message" err &&
	expect_exit 65 as_user bob imvoice play 999999 -o x.ogg 2>err &&
	test_grep "no message 999999" err &&
	expect_exit 65 as_user carol imvoice play "$id" -o x.ogg 2>err &&
	test_grep "no message $id" err &&
	! test -e x.ogg
'

test_expect_success 'not logged in: exit 77 before anything is recorded' '
	mkdir -p empty-home && chmod 700 empty-home &&
	IM_DIR=$PWD/empty-home expect_exit 77 "$IM_BIN/imvoice" -i sine.wav bob 2>err &&
	test_grep "not logged in" err
'

test_expect_success 'usage errors: exit 64' '
	expect_exit 64 as_user alice imvoice 2>err &&
	expect_exit 64 as_user alice imvoice bob carol 2>err &&
	expect_exit 64 as_user alice imvoice -g ops bob 2>err &&
	expect_exit 64 as_user alice imvoice play 2>err &&
	expect_exit 64 as_user alice imvoice play 1 2 2>err &&
	expect_exit 64 as_user alice imvoice play x 2>err &&
	expect_exit 64 as_user alice imvoice -i sine.wav play 1 2>err &&
	expect_exit 64 as_user alice imvoice -o x.ogg bob 2>err &&
	expect_exit 64 as_user alice imvoice -t 0 bob 2>err &&
	expect_exit 64 as_user alice imvoice -t 3601 bob 2>err &&
	expect_exit 64 as_user alice imvoice -t abc bob 2>err &&
	expect_exit 64 as_user alice imvoice "Bad!Name" 2>err &&
	test_grep "not a valid user name" err
'

test_expect_success 'an unknown recipient: exit 67, after encoding, nothing left behind' '
	expect_exit 67 as_user alice imvoice -i sine.wav nobody-here 2>err &&
	test_grep "nobody-here" err &&
	expect_exit 67 as_user alice imvoice -i sine.wav -g no-such-group 2>err &&
	no_tmp_left
'

test_done
