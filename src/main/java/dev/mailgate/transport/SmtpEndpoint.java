package dev.mailgate.transport;

import dev.mailgate.config.Settings;

/**
 * The camel-mail {@code smtp} endpoint every message leaves through: STARTTLS required before AUTH, the
 * server certificate and host name verified, TLS 1.2+, connect/read/write timeouts, {@code AUTH XOAUTH2}
 * with tokens from the {@code xoauth2} authenticator bean, and no token fetch until the first message.
 */
public final class SmtpEndpoint {

    public static final String AUTHENTICATOR_BEAN = "xoauth2";
    public static final String SENDER_BEAN = "mailgateSender";
    public static final String TLS_BEAN = "mailgateSmtpTls";

    private SmtpEndpoint() {
    }

    public static String uri(Settings.Smtp smtp, boolean customTrust) {
        StringBuilder uri = new StringBuilder("smtp://").append(smtp.host()).append(':').append(smtp.port())
                .append("?authenticator=#").append(AUTHENTICATOR_BEAN)
                .append("&javaMailSender=#").append(SENDER_BEAN)
                .append("&lazyStartProducer=true")
                .append("&connectionTimeout=").append(smtp.connectTimeout().toMillis())
                .append("&mail.smtp.connectiontimeout=").append(smtp.connectTimeout().toMillis())
                .append("&mail.smtp.timeout=").append(smtp.readTimeout().toMillis())
                // camel-mail never sets this one; without it a stalled server blocks a sender forever
                .append("&mail.smtp.writetimeout=").append(smtp.writeTimeout().toMillis())
                .append("&mail.smtp.auth=true")
                .append("&mail.smtp.auth.mechanisms=XOAUTH2")
                .append("&mail.smtp.starttls.enable=true")
                .append("&mail.smtp.starttls.required=true")
                .append("&mail.smtp.ssl.checkserveridentity=true")
                .append("&mail.smtp.ssl.protocols=RAW(TLSv1.3 TLSv1.2)")
                .append("&mail.debug=").append(smtp.debug());
        if (customTrust) {
            // applied to STARTTLS because mail.smtp.starttls.* is set above
            uri.append("&sslContextParameters=#").append(TLS_BEAN);
        }
        return uri.toString();
    }
}
