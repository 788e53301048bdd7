// libfcgi's FCGX_* API only. Never include fcgi_stdio.h: it #defines printf, fopen and friends.
#include <fcgiapp.h>
