// libcurl as HTTPClient sees it.
#include <curl/curl.h>
