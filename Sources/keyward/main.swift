import Foundation
import KeywardFastCGI

// A web server running the binary as a CGI program passes no arguments: answer the one request.
if CommandLine.arguments.count == 1 && CGIRunner.isCGI {
    exit(CLI.main([CommandLine.arguments[0], "serve"]))
}
exit(CLI.main(CommandLine.arguments))
