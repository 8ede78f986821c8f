#ifndef TOKENVAULT_CCURL_SHIM_H
#define TOKENVAULT_CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed wrapper per argument kind. */
typedef size_t (*tv_curl_write_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef size_t (*tv_curl_read_callback)(char *buffer, size_t size, size_t nitems, void *userdata);

static inline CURLcode tv_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tv_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tv_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tv_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tv_curl_setopt_write_callback(CURL *h, CURLoption o, tv_curl_write_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tv_curl_setopt_read_callback(CURL *h, CURLoption o, tv_curl_read_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tv_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
typedef int (*tv_curl_debug_callback)(CURL *handle, curl_infotype type, char *data, size_t size, void *userptr);
static inline CURLcode tv_curl_setopt_debug_callback(CURL *h, CURLoption o, tv_curl_debug_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tv_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
#endif
