package dev.mailgate.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;

import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * Runs representative flows (a send, a rejected token and its refresh, a wrong client secret and the health report
 * of the mailbox it holds) with every logger at DEBUG and Jakarta Mail's protocol trace on, captures everything
 * printed plus every receipt, error file, the health report and the metrics, and looks for the secrets, every
 * token Entra issued, the SASL response, {@code Bearer } and anything shaped like a JWT.
 */
class SecretsNeverLoggedTest {

    private static final Pattern JWT = Pattern.compile("eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}");
    private static final String WRONG_SECRET = "Wr0ng~secret-value-that-must-not-leak";
    private static final String API_KEY = "api-key-that-must-not-leak-0123456789";

    @TempDir
    Path dir;

    private final SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
    private final ByteArrayOutputStream captured = new ByteArrayOutputStream();
    private PrintStream originalOut;
    private PrintStream originalErr;
    private Level originalLevel;

    @BeforeEach
    void captureEverythingAtDebug() {
        originalOut = System.out;
        originalErr = System.err;
        System.setOut(new PrintStream(tee(originalOut), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(tee(originalErr), true, StandardCharsets.UTF_8));
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        originalLevel = root.getLevel();
        root.setLevel(Level.DEBUG);
    }

    @AfterEach
    void restore() {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).setLevel(originalLevel);
        System.setOut(originalOut);
        System.setErr(originalErr);
    }

    @Test
    void debug_logs_and_mail_protocol_trace_hold_no_secret_token_or_sasl_response() throws Exception {
        List<String> tokens = new ArrayList<>();
        String health;
        String metrics;
        try (TestEntra entra = new TestEntra(tls, null);
                TestSmtpServer smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens())) {
            Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), tls);
            properties.put("mailgate.smtp.debug", "true");
            properties.put("mailgate.http.api-keys", API_KEY);
            // a connection per message, so that the second one authenticates (and has its token rejected)
            properties.put("mailgate.smtp.pool.enabled", "false");
            try (Gateway gateway = Gateway.start(dir, properties)) {
                gateway.drop("plain.json", "{\"to\": \"a@example.com\", \"subject\": \"s\", \"text\": \"t\"}");
                gateway.awaitSent("plain.json");
                smtp.rejectNextAuth(1);
                gateway.drop("refreshed.json", "{\"to\": \"a@example.com\", \"subject\": \"s\", \"text\": \"t\"}");
                gateway.awaitSent("refreshed.json");
                metrics = new Http(Integer.parseInt(properties.get("mailgate.http.port"))).get(API_KEY, "/metrics")
                        .body();
            }
            Path other = Files.createDirectories(dir.resolve("wrong"));
            Map<String, String> wrong = Gateway.realTenant(other, entra, smtp.port(), tls);
            wrong.put("mailgate.entra.client-secret", WRONG_SECRET);
            wrong.put("mailgate.smtp.debug", "true");
            wrong.put("mailgate.http.api-keys", API_KEY);
            try (Gateway gateway = Gateway.start(other, wrong)) {
                gateway.drop("denied.json", "{\"to\": \"a@example.com\", \"subject\": \"s\", \"text\": \"t\"}");
                gateway.awaitHeld(Gateway.SENDER);
                health = new Http(Integer.parseInt(wrong.get("mailgate.http.port"))).get(API_KEY, "/api/v1/health")
                        .body();
            }
            tokens.addAll(entra.endpoint().issuedTokens());
            assertThat(smtp.saslResponses()).hasSize(3);
        }
        // what the user reads besides the log: receipts and error files
        StringBuilder outcomes = new StringBuilder();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(f -> f.toString().endsWith(".receipt.json")
                    || f.toString().endsWith(".error.json")).toList()) {
                outcomes.append(Files.readString(f)).append('\n');
            }
        }
        assertThat(outcomes.toString()).contains("\"status\" : \"sent\"");
        // and what health says about the held mailbox
        assertThat(health).contains("AADSTS7000215", "\"status\" : \"DOWN\"");
        // and the metrics
        assertThat(metrics).contains("mailgate_messages_sent_total", "mailgate_token_refreshes_total 2.0");
        String output = captured.toString(StandardCharsets.UTF_8) + "\n" + outcomes + "\n" + health + "\n" + metrics;

        // the capture really holds DEBUG logs and the SMTP protocol trace
        assertThat(output).contains("DEBUG", "STARTTLS", "AUTH XOAUTH2", "AADSTS7000215");
        assertThat(tokens).hasSize(2);
        List<String> forbidden = new ArrayList<>(tokens);
        forbidden.addAll(List.of(TestEntra.SECRET, WRONG_SECRET, API_KEY, dev.mailgate.support.Jms.PASSWORD, "Bearer ",
                Base64.getEncoder().encodeToString(("user=" + Gateway.SENDER).getBytes(StandardCharsets.UTF_8))));
        Stream.of(output.split("\n")).forEach(line -> {
            for (String secret : forbidden) {
                assertThat(line).as("a captured line").doesNotContain(secret);
            }
            assertThat(JWT.matcher(line).find()).as("JWT-shaped text in: %s", line).isFalse();
        });
    }

    private OutputStream tee(PrintStream original) {
        return new OutputStream() {
            @Override
            public void write(int b) {
                synchronized (captured) {
                    captured.write(b);
                }
                original.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                synchronized (captured) {
                    captured.write(b, off, len);
                }
                original.write(b, off, len);
            }
        };
    }
}
