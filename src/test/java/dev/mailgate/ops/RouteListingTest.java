package dev.mailgate.ops;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.support.MailgateExtension;

/**
 * Camel Main's own route dump ({@code camel.main.dumpRoutes=yaml}, {@code dumpRoutesInclude=all}) lists the error
 * policy, the channel templates and every route Mailgate runs, with their steps, as YAML in the log at start: the
 * documented way to see the flow (README "Your own routes").
 */
class RouteListingTest {

    @RegisterExtension
    static final MailgateExtension MAILGATE = MailgateExtension.realTenant().with("camel.main.dumpRoutes", "yaml")
            .with("camel.main.dumpRoutesInclude", "all");

    @Test
    void the_route_dump_lists_the_channels_the_delivery_route_and_the_submit_endpoint_with_their_steps() {
        String log = MAILGATE.logText();

        assertThat(log).contains("Dumping 1 route-configurations as YAML", "- routeConfiguration:",
                "id: mailgate-delivery", "Dumping 3 route-templates as YAML", "id: mailgate-outbox", "id: mailgate-jms",
                "uri: direct:mailgate-deliver", "id: mailgate-deliver", "id: mailgate-smtp", "id: mailgate-submit",
                "uri: direct:mailgate-submit", "id: admit-and-queue", "id: http-submit");
        // the delivery route's steps, in order
        String deliver = log.substring(log.indexOf("id: mailgate-deliver"));
        assertThat(deliver).containsSubsequence("id: validate", "id: one-copy-at-a-time", "id: take-the-mailbox-turn",
                "id: record-attempt", "id: compose", "id: mailgate-smtp", "id: record-sent");
        // the dump shows the smtp endpoint's settings, never a secret (the token comes from the authenticator bean)
        assertThat(log).contains("authenticator=#xoauth2").doesNotContain(MailgateExtension.API_KEY,
                dev.mailgate.support.TestEntra.SECRET);
    }
}
