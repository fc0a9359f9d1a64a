/*
 * curlinit — the floor of the one-shot scenario: a program that only
 * initialises libcurl (and OpenSSL under it) and exits.  Its run time is
 * mostly the dynamic loader mapping libcurl's shared libraries.
 */
#include <curl/curl.h>

int main(void)
{
	CURL *c;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	c = curl_easy_init();
	if (!c)
		return 1;
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return 0;
}
