package dev.mailgate.channel.http;

import org.apache.camel.builder.RouteBuilder;

/**
 * The HTTP API's routes on the Vert.x platform-http server. Authentication happens in front of them (see
 * {@link ApiKeyAuthentication}); a wrong method gets {@code 405} and an unknown path {@code 404} from the server.
 */
public final class HttpRoutes extends RouteBuilder {

    private static final String HEADERS = "&headerFilterStrategy=#" + ResponseHeaders.BEAN;

    private final HttpApi api;
    private final java.util.function.Supplier<String> metrics;

    /** @param metrics the metrics in Prometheus' text format, served at {@code /metrics} (API key required) */
    public HttpRoutes(HttpApi api, java.util.function.Supplier<String> metrics) {
        this.api = api;
        this.metrics = metrics;
    }

    @Override
    public void configure() {
        from("platform-http:" + HttpApi.BASE + "?httpMethodRestrict=POST" + HEADERS).routeId("http-submit")
                .process(api::submit);
        from("platform-http:" + HttpApi.BASE + "/{id}?httpMethodRestrict=GET" + HEADERS).routeId("http-status")
                .process(api::status);
        from("platform-http:/api/v1/health?httpMethodRestrict=GET" + HEADERS).routeId("http-health")
                .process(api::health);
        from("platform-http:" + HttpApi.LIVENESS + "?httpMethodRestrict=GET" + HEADERS).routeId("http-liveness")
                .process(e -> api.probe(e, true));
        from("platform-http:" + HttpApi.READINESS + "?httpMethodRestrict=GET" + HEADERS).routeId("http-readiness")
                .process(e -> api.probe(e, false));
        from("platform-http:/metrics?httpMethodRestrict=GET" + HEADERS).routeId("http-metrics")
                .removeHeaders("*")
                .setHeader("Content-Type", constant("text/plain; version=0.0.4; charset=utf-8"))
                .setBody(exchange -> metrics.get());
        from("platform-http:/api/v1/openapi.yaml?httpMethodRestrict=GET" + HEADERS).routeId("http-openapi")
                // response headers are the message's headers: drop the request's (its API key included)
                .removeHeaders("*")
                .setHeader("Content-Type", constant("application/yaml"))
                .setBody(constant(openApi()));
    }

    private static String openApi() {
        try (var in = HttpRoutes.class.getResourceAsStream("/openapi/mailgate-api.yaml")) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException | NullPointerException e) {
            throw new IllegalStateException("the OpenAPI description is missing from the jar", e);
        }
    }
}
