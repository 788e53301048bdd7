#!/bin/sh
# CGI stand-in for a protected application (Apache mod_cgid, lighttpd mod_cgi): prints what the
# authorizer put into the request environment. POSIX sh only, so it runs as the web server's user
# without any interpreter of ours.
printf 'Content-Type: text/plain\r\n\r\n'
printf 'REMOTE_USER=%s\n' "${REMOTE_USER-}"
printf 'AUTH_CREDENTIAL=%s\n' "${AUTH_CREDENTIAL-}"
printf 'AUTH_METHOD=%s\n' "${AUTH_METHOD-}"
printf 'AUTH_SCOPES=%s\n' "${AUTH_SCOPES-}"
printf 'AUTH_SERVICE=%s\n' "${AUTH_SERVICE-}"
printf 'REQUEST_METHOD=%s\n' "${REQUEST_METHOD-}"
printf 'REQUEST_URI=%s\n' "${REQUEST_URI-}"
