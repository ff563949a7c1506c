package dev.mailgate.channel.http;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.impl.VertxInternal;
import io.vertx.core.impl.VertxWrapper;

import org.apache.camel.component.platform.http.vertx.VertxPlatformHttpRouter;
import org.apache.camel.component.platform.http.vertx.VertxPlatformHttpServer;
import org.apache.camel.component.platform.http.vertx.VertxPlatformHttpServerConfiguration;

import dev.mailgate.config.Settings;

/**
 * The HTTP API's listener: Camel's platform-http server on Vert.x, with what Mailgate adds around it.
 * <ul>
 * <li>On the Vert.x HTTP server: the {@link ConnectionGuard} (header and idle timeouts, connection limits), the
 * number of parts a multipart form may have ({@code maxFormFields}), HTTP/1.1 only, and problem documents for
 * request heads Vert.x cannot parse.</li>
 * <li>On the router, in front of the routes: the media type check ({@link MediaTypes}) before the body is read, and
 * problem documents for the errors Vert.x Web answers itself ({@link Problems#install}).</li>
 * </ul>
 * <p>
 * Where the server hooks in (camel-platform-http-vertx 4.22): {@code VertxPlatformHttpServer.startServer()} creates
 * the server with {@code vertx.createHttpServer(new HttpServerOptions())} (only TLS set from the configuration) and
 * calls {@code requestHandler(router).listen(...)} at once. {@code VertxPlatformHttpServerConfiguration} has no
 * server options and no connection handler, the root router is a private field, and Vert.x takes a connection
 * handler only before {@code listen}. The one seam is the Vert.x instance, which the server looks up in Camel's
 * registry ({@code doInit}: the single {@code Vertx} bean): {@link #vertx} wraps it in Vert.x' own delegating
 * {@link VertxWrapper} so that {@code createHttpServer} gets these options and handlers, and the server it returns
 * notes each request's arrival for the guard. The router is reached after {@code initializeServer()}, which binds
 * the sub-router (where the authentication handlers are) as {@link VertxPlatformHttpRouter}: handlers added there
 * run after authentication and before the routes' own body handler.
 */
public final class HttpListener {

    private HttpListener() {
    }

    /** {@code vertx}, whose HTTP servers are created with Mailgate's limits; for Camel's registry. */
    public static Vertx vertx(Vertx vertx, Settings.Http http) {
        ConnectionGuard guard = new ConnectionGuard(http.headerTimeout(), http.idleTimeout(), http.maxConnections(),
                http.maxConnectionsPerAddress());
        return new VertxWrapper((VertxInternal) vertx) {
            @Override
            public HttpServer createHttpServer(HttpServerOptions options) {
                return server(delegate, options, guard, http.maxParts());
            }

            @Override
            public HttpServer createHttpServer() {
                return createHttpServer(new HttpServerOptions());
            }
        };
    }

    /** The platform-http server, with the media type check and the problem answers on its router. */
    public static VertxPlatformHttpServer server(VertxPlatformHttpServerConfiguration configuration,
            Settings.Http http) {
        return new PlatformHttpServer(configuration, http);
    }

    /** A named class: Camel names the server's thread pool after the class' simple name, which must not be empty. */
    private static final class PlatformHttpServer extends VertxPlatformHttpServer {
        private final VertxPlatformHttpServerConfiguration configuration;
        private final Settings.Http http;

        PlatformHttpServer(VertxPlatformHttpServerConfiguration configuration, Settings.Http http) {
            super(configuration);
            this.configuration = configuration;
            this.http = http;
        }

        @Override
        protected void initializeServer() {
            super.initializeServer();
            VertxPlatformHttpRouter router = VertxPlatformHttpRouter.lookup(getCamelContext(),
                    VertxPlatformHttpRouter.getRouterNameFromPort(configuration.getPort()));
            router.route(HttpMethod.POST, HttpApi.BASE).handler(MediaTypes.check());
            Problems.install(router, http.maxBodyBytes(), http.maxParts());
        }
    }

    private static HttpServer server(Vertx vertx, HttpServerOptions given, ConnectionGuard guard, int maxParts) {
        HttpServerOptions options = new HttpServerOptions(given)
                // HTTP/1.1 only: on one h2c connection many requests could run at once, which the guard's
                // bookkeeping (one request at a time per connection, as HTTP/1.1 serves them) does not follow
                .setHttp2ClearTextEnabled(false)
                // Netty counts every part, file or field, and fails the body past this many
                .setMaxFormFields(maxParts);
        HttpServer server = vertx.createHttpServer(options);
        server.connectionHandler(guard::opened);
        server.invalidRequestHandler(Problems::invalidRequest);
        long sweep = guard.sweepMillis();
        long timer = vertx.setPeriodic(sweep, sweep, id -> guard.sweep());
        // the server as Camel sees it: the same, but the request handler Camel sets (its router) is told of each
        // request's arrival first, and closing it stops the sweep
        return (HttpServer) Proxy.newProxyInstance(HttpServer.class.getClassLoader(), new Class<?>[] {HttpServer.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("requestHandler") && args != null && args.length == 1) {
                        @SuppressWarnings("unchecked")
                        Handler<HttpServerRequest> handler = (Handler<HttpServerRequest>) args[0];
                        server.requestHandler(guard.noting(handler));
                        return proxy;
                    }
                    if (method.getName().equals("close")) {
                        vertx.cancelTimer(timer);
                    }
                    try {
                        Object result = method.invoke(server, args);
                        return result == server ? proxy : result;
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }
}
