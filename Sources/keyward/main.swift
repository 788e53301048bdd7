import Foundation
import KeywardFastCGI

// Run by a web server as a CGI program, answer the one request and never read argv: Apache turns
// a query string without `=` into arguments (RFC 3875 §4.4), which must not become CLI commands.
if CGIRunner.isCGI {
    exit(CLI.main([CommandLine.arguments[0], "serve"]))
}
exit(CLI.main(CommandLine.arguments))
