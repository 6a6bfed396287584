#include <curl/curl.h>
#include <dlfcn.h>
#include <stddef.h>

// libcurl is opened at run time, only when an HTTPS uplink is configured: linked at start-up it and the
// libraries it pulls in (GnuTLS, Kerberos, LDAP, ...) add about 4 MB to the resident size of every
// daemon, most of which never sends a byte over HTTPS. The headers give the types and constants; these
// pointers are filled by celldrift_curl_open. curl_easy_setopt and curl_easy_getinfo are variadic,
// which Swift cannot call: one typed wrapper each.
typedef struct {
    CURLcode (*global_init)(long);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} celldrift_curl_functions;

// A function-local static: Swift's importer emits the functions of this header, not its global variables.
static inline celldrift_curl_functions *celldrift_curl_table(void) {
    static celldrift_curl_functions table;
    return &table;
}
#define celldrift_curl (*celldrift_curl_table())

/// Opens libcurl and finds its functions; NULL when it worked, else what went wrong.
static inline const char *celldrift_curl_open(void) {
    if (celldrift_curl.easy_init) return NULL;
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) return dlerror();
#define CELLDRIFT_FIND(field, name) \
    if (!(*(void **)&celldrift_curl.field = dlsym(library, name))) return "libcurl.so.4 lacks " name;
    CELLDRIFT_FIND(global_init, "curl_global_init")
    CELLDRIFT_FIND(multi_init, "curl_multi_init")
    CELLDRIFT_FIND(multi_cleanup, "curl_multi_cleanup")
    CELLDRIFT_FIND(multi_add_handle, "curl_multi_add_handle")
    CELLDRIFT_FIND(multi_remove_handle, "curl_multi_remove_handle")
    CELLDRIFT_FIND(multi_perform, "curl_multi_perform")
    CELLDRIFT_FIND(multi_info_read, "curl_multi_info_read")
    CELLDRIFT_FIND(easy_cleanup, "curl_easy_cleanup")
    CELLDRIFT_FIND(easy_setopt, "curl_easy_setopt")
    CELLDRIFT_FIND(easy_getinfo, "curl_easy_getinfo")
    CELLDRIFT_FIND(easy_strerror, "curl_easy_strerror")
    CELLDRIFT_FIND(slist_append, "curl_slist_append")
    CELLDRIFT_FIND(slist_free_all, "curl_slist_free_all")
    CELLDRIFT_FIND(easy_init, "curl_easy_init")  // last: it marks the table complete
#undef CELLDRIFT_FIND
    celldrift_curl.global_init(CURL_GLOBAL_DEFAULT);
    return NULL;
}

static inline CURLM *celldrift_curl_multi_init(void) { return celldrift_curl.multi_init(); }
static inline void celldrift_curl_multi_cleanup(CURLM *multi) { celldrift_curl.multi_cleanup(multi); }
static inline CURLMcode celldrift_curl_multi_add(CURLM *multi, CURL *handle) { return celldrift_curl.multi_add_handle(multi, handle); }
static inline void celldrift_curl_multi_remove(CURLM *multi, CURL *handle) { celldrift_curl.multi_remove_handle(multi, handle); }
static inline void celldrift_curl_multi_perform(CURLM *multi, int *running) { celldrift_curl.multi_perform(multi, running); }
/// The outcome of `handle` once it is done: 1 and its result, else 0.
static inline int celldrift_curl_done(CURLM *multi, CURL *handle, CURLcode *result) {
    int left = 0;
    CURLMsg *message;
    while ((message = celldrift_curl.multi_info_read(multi, &left))) {
        if (message->msg == CURLMSG_DONE && message->easy_handle == handle) {
            *result = message->data.result;
            return 1;
        }
    }
    return 0;
}
static inline CURL *celldrift_curl_easy_init(void) { return celldrift_curl.easy_init(); }
static inline void celldrift_curl_easy_cleanup(CURL *handle) { celldrift_curl.easy_cleanup(handle); }
static inline const char *celldrift_curl_strerror(CURLcode code) { return celldrift_curl.easy_strerror(code); }
static inline struct curl_slist *celldrift_curl_slist_append(struct curl_slist *list, const char *line) {
    return celldrift_curl.slist_append(list, line);
}
static inline void celldrift_curl_slist_free(struct curl_slist *list) { celldrift_curl.slist_free_all(list); }
static inline CURLcode celldrift_curl_set_long(CURL *handle, CURLoption option, long value) {
    return celldrift_curl.easy_setopt(handle, option, value);
}
static inline CURLcode celldrift_curl_set_string(CURL *handle, CURLoption option, const char *value) {
    return celldrift_curl.easy_setopt(handle, option, value);
}
static inline CURLcode celldrift_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
    return celldrift_curl.easy_setopt(handle, option, value);
}
static inline CURLcode celldrift_curl_set_write_function(CURL *handle, size_t (*function)(char *, size_t, size_t, void *)) {
    return celldrift_curl.easy_setopt(handle, CURLOPT_WRITEFUNCTION, function);
}
static inline long celldrift_curl_response_code(CURL *handle) {
    long code = 0;
    celldrift_curl.easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
    return code;
}
