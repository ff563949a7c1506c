package dev.mailgate.request;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Whom a channel may send as, and to whom. The app registration may be allowed to send as many mailboxes; a
 * channel sends only as the senders listed here ({@code *} for any), and, when a recipient-domain list is set,
 * only to those domains.
 *
 * @param allowedSenders          addresses ({@code billing@contoso.com}) and domains ({@code contoso.com} or
 *                                {@code @contoso.com}); {@code *} allows any sender
 * @param forcedSender            when set, the channel's only sender: requests without {@code from} get it, others
 *                                must name it
 * @param allowedRecipientDomains empty: any recipient
 */
public record SenderRules(List<String> allowedSenders, Optional<String> forcedSender,
        List<String> allowedRecipientDomains) {

    public static final SenderRules ANYONE = new SenderRules(List.of("*"), Optional.empty(), List.of());

    public boolean mayUseSender(String address) {
        String a = address.toLowerCase(Locale.ROOT);
        if (forcedSender.isPresent()) {
            return forcedSender.get().equalsIgnoreCase(a);
        }
        return allowedSenders.stream().map(s -> s.toLowerCase(Locale.ROOT))
                .anyMatch(s -> s.equals("*") || s.equals(a) || s.indexOf('@') <= 0 && domainOf(a).equals(
                        s.startsWith("@") ? s.substring(1) : s));
    }

    public boolean mayReach(String address) {
        String domain = domainOf(address.toLowerCase(Locale.ROOT));
        return allowedRecipientDomains.isEmpty() || allowedRecipientDomains.stream()
                .map(d -> d.toLowerCase(Locale.ROOT)).map(d -> d.startsWith("@") ? d.substring(1) : d)
                .anyMatch(d -> domain.equals(d) || domain.endsWith("." + d));
    }

    private static String domainOf(String address) {
        return address.substring(address.lastIndexOf('@') + 1);
    }
}
