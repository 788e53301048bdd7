// A servlet application for the end-to-end suites: embedded Tomcat (Debian's libtomcat10-embed-java)
// with one servlet per protected area, so a test can tell which one a request reached.
//
//   java -cp /usr/share/java/tomcat10-embed-core.jar:/usr/share/java/jakarta-annotation-api.jar:<classes> Backend PORT
//
// /api/reports/* -> {"servlet":"reports", ...}   /api/other, /api/other/* -> {"servlet":"other", ...}
// anything else -> {"servlet":"root", ...}. Each answer also names every request header that reads as
// an identity or key header once `_` is taken for `-` ("auth_headers": X-Auth-User, X_Auth_User, ...).
// Tomcat removes path parameters (";jsessionid=1") from each segment and then resolves dot segments,
// which is how `/api/reports/;/../other` reaches the "other" servlet. Listens on 127.0.0.1 only.
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Collections;
import java.util.Locale;
import org.apache.catalina.Context;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;

public class Backend {
    static HttpServlet named(String name) {
        return new HttpServlet() {
            @Override
            protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
                resp.setContentType("application/json");
                String user = req.getHeader("X-Auth-User");
                StringBuilder auth = new StringBuilder();
                for (String h : Collections.list(req.getHeaderNames())) {
                    String n = h.toLowerCase(Locale.ROOT).replace('_', '-');
                    if (n.startsWith("x-auth-") || n.equals("x-api-key")) {
                        for (String v : Collections.list(req.getHeaders(h))) {
                            auth.append(auth.length() == 0 ? "" : " ").append(h).append('=').append(v);
                        }
                    }
                }
                resp.getWriter().printf("{\"servlet\":\"%s\",\"uri\":\"%s\",\"servlet_path\":\"%s\",\"user\":\"%s\",\"auth_headers\":\"%s\"}%n",
                        name, esc(req.getRequestURI()), esc(req.getServletPath()), esc(user == null ? "" : user), esc(auth.toString()));
            }
        };
    }

    static String esc(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    public static void main(String[] args) throws Exception {
        Tomcat tomcat = new Tomcat();
        tomcat.setBaseDir(Files.createTempDirectory("tomcat").toString());
        Connector connector = new Connector();
        connector.setPort(Integer.parseInt(args[0]));
        connector.setProperty("address", "127.0.0.1");
        tomcat.setConnector(connector);
        Context ctx = tomcat.addContext("", null);
        Tomcat.addServlet(ctx, "reports", named("reports"));
        Tomcat.addServlet(ctx, "other", named("other"));
        Tomcat.addServlet(ctx, "root", named("root"));
        ctx.addServletMappingDecoded("/api/reports/*", "reports");
        ctx.addServletMappingDecoded("/api/other", "other");
        ctx.addServletMappingDecoded("/api/other/*", "other");
        ctx.addServletMappingDecoded("/", "root");
        tomcat.start();
        tomcat.getServer().await();
    }
}
