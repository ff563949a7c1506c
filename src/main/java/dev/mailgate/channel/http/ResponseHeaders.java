package dev.mailgate.channel.http;

import java.util.Locale;
import java.util.Set;

import org.apache.camel.Exchange;
import org.apache.camel.spi.HeaderFilterStrategy;

/**
 * platform-http writes the exchange's headers into the response, so on any path that did not clear them (an
 * exception, a route added later) the request's own headers, its API key included, would be echoed back. Only
 * the headers the API sets on purpose go out.
 */
public final class ResponseHeaders implements HeaderFilterStrategy {

    public static final String BEAN = "mailgateHttpHeaders";

    private static final Set<String> ALLOWED = Set.of("content-type", "location", "idempotent-replayed",
            "retry-after", "allow");

    /** Outgoing: {@code true} filters the header out. */
    @Override
    public boolean applyFilterToCamelHeaders(String name, Object value, Exchange exchange) {
        return !ALLOWED.contains(name.toLowerCase(Locale.ROOT));
    }

    /** Incoming: kept as Camel would (the handlers read what they need from the request itself). */
    @Override
    public boolean applyFilterToExternalHeaders(String name, Object value, Exchange exchange) {
        return name.toLowerCase(Locale.ROOT).startsWith("camel");
    }
}
