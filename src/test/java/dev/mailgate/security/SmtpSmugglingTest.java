package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStoreException;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

import jakarta.mail.BodyPart;
import jakarta.mail.MessagingException;
import jakarta.mail.Multipart;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.MimeMessage;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.compose.MimeComposer;
import dev.mailgate.compose.OutgoingMessage;
import dev.mailgate.render.TemplateRenderer;
import dev.mailgate.request.MailRequest;
import dev.mailgate.request.MailRequestReader;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * SMTP smuggling: message bodies that contain end-of-data look-alikes ({@code <LF>.<LF>}, {@code <CR>.<CR>},
 * {@code <LF>.<CR><LF>}, ...), lone dots and bare CR or LF, some followed by a whole second mail transaction
 * ({@code MAIL FROM}, {@code RCPT TO}, {@code DATA}). Each must leave Mailgate with exactly one end of data: the
 * server (which, like Exchange Online, ends DATA only at {@code <CR><LF>.<CR><LF>}) receives exactly one message
 * per request and nothing from the smuggler, the body arrives whole (the server undoes the dot-stuffing), and
 * every line of the transmitted data ends with CRLF, so a server that also accepts a bare LF as a line end cannot
 * see an end of data either.
 * <p>
 * Through the outbox end to end ({@code text}, {@code html}, {@code .eml}), all files dropped when the class
 * starts; and through {@link MimeComposer} sent directly with Angus Mail's SMTP transport ({@code text} +
 * {@code html} as multipart/alternative, and an {@code .eml}).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SmtpSmugglingTest {

    private static final String SMUGGLER = "evil@smuggler.example";
    private static final String VICTIM = "victim@smuggled.example";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the body contains. */
    enum Body {
        LONE_DOT_LINE("a lone . line between paragraphs", "first paragraph\r\n\r\n.\r\n\r\nsecond paragraph"),
        ONLY_A_DOT("a body that is a lone .", "."),
        DOT_FIRST_LINE("a lone . as the first line", ".\r\nafter"),
        DOT_LAST_LINE_WITHOUT_LINE_END("a lone . as the last line, without a line end", "before\r\n."),
        DOT_LAST_LINE("a lone . as the last line", "before\r\n.\r\n"),
        TWO_DOTS("a line of two dots", "before\r\n..\r\nafter"),
        LF_DOT_LF("<LF>.<LF> in the middle", "before\n.\nafter"),
        CR_DOT_CR("<CR>.<CR> in the middle", "before\r.\rafter"),
        CRLF_DOT_CRLF("<CR><LF>.<CR><LF> in the middle", "before\r\n.\r\nafter"),
        LF_DOT_CRLF("<LF>.<CR><LF> in the middle", "before\n.\r\nafter"),
        CRLF_DOT_LF("<CR><LF>.<LF> in the middle", "before\r\n.\nafter"),
        CR_DOT_CRLF("<CR>.<CR><LF> in the middle", "before\r.\r\nafter"),
        CRLF_DOT_CR("<CR><LF>.<CR> in the middle", "before\r\n.\rafter"),
        BARE_CR("bare CR line ends", "line one\rline two\r"),
        BARE_LF("bare LF line ends", "line one\nline two\n"),
        SMUGGLED_AFTER_CRLF_DOT_CRLF("<CR><LF>.<CR><LF> then a second transaction", smuggle("\r\n.\r\n")),
        SMUGGLED_AFTER_LF_DOT_LF("<LF>.<LF> then a second transaction", smuggle("\n.\n")),
        SMUGGLED_AFTER_CR_DOT_CR("<CR>.<CR> then a second transaction", smuggle("\r.\r")),
        SMUGGLED_AFTER_LF_DOT_CRLF("<LF>.<CR><LF> then a second transaction", smuggle("\n.\r\n")),
        SMUGGLED_AFTER_CRLF_DOT_LF("<CR><LF>.<LF> then a second transaction", smuggle("\r\n.\n")),
        SMUGGLED_AFTER_CR_DOT_CRLF("<CR>.<CR><LF> then a second transaction", smuggle("\r.\r\n"));

        final String content;
        private final String label;

        Body(String label, String content) {
            this.label = label;
            this.content = content;
        }

        @Override
        public String toString() {
            return label;
        }
    }

    /**
     * A body that, if {@code end} ended the data, would go on as a second mail transaction from the smuggler,
     * itself ended with {@code end}.
     */
    private static String smuggle(String end) {
        return "Dear customer," + end + "MAIL FROM:<" + SMUGGLER + ">\r\nRCPT TO:<" + VICTIM + ">\r\nDATA\r\n"
                + "From: " + SMUGGLER + "\r\nTo: " + VICTIM + "\r\nSubject: smuggled\r\n\r\nhi" + end;
    }

    /** How a request reaches the server. */
    enum Channel { TEXT, HTML, EML, DIRECT_TEXT_AND_HTML, DIRECT_EML, EML_LF_HEADERS, EML_CR_HEADERS }

    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant();

    private static TestEntra entra;
    private static TestSmtpServer smtp;
    private static Gateway gateway;
    private static Path dir;
    private static MimeComposer composer;
    private static final List<String> OUTBOX_FILES = new ArrayList<>();
    private static final AtomicInteger DIRECT_SENDS = new AtomicInteger();

    @BeforeAll
    static void dropEveryBody() throws IOException {
        // WireChecks waits for each of the 65 outcomes twice (and the last test once more): look at once, not only
        // after a first poll interval, as most are there by then
        Awaitility.setDefaultPollDelay(Duration.ZERO);
        entra = mailgate.entra();
        smtp = mailgate.smtp();
        gateway = mailgate.gateway();
        dir = mailgate.dir();
        composer = new MimeComposer(new TemplateRenderer(Files.createDirectories(dir.resolve("templates"))));
        for (Body body : Body.values()) {
            drop(Channel.TEXT, body, textRequest("text", body));
            drop(Channel.HTML, body, textRequest("html", body));
            drop(Channel.EML, body, eml(Channel.EML, body, "\r\n"));
        }
        drop(Channel.EML_LF_HEADERS, Body.SMUGGLED_AFTER_LF_DOT_LF, eml(Channel.EML_LF_HEADERS,
                Body.SMUGGLED_AFTER_LF_DOT_LF, "\n"));
        drop(Channel.EML_CR_HEADERS, Body.SMUGGLED_AFTER_CR_DOT_CR, eml(Channel.EML_CR_HEADERS,
                Body.SMUGGLED_AFTER_CR_DOT_CR, "\r"));
    }

    @AfterAll
    static void awaitilityAsBefore() {
        Awaitility.reset();
    }

    private static void drop(Channel channel, Body body, String content) {
        String name = name(channel, body) + (channel == Channel.TEXT || channel == Channel.HTML ? ".json" : ".eml");
        gateway.drop(name, content);
        OUTBOX_FILES.add(name);
    }

    private static String name(Channel channel, Body body) {
        return (channel.name() + "-" + body.name()).toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The one recipient of a case, so that what the server received can be told apart. */
    private static String recipient(Channel channel, Body body) {
        return name(channel, body) + "@rcpt.example";
    }

    private static String textRequest(String field, Body body) {
        ObjectNode r = JSON.createObjectNode();
        r.put("to", recipient(field.equals("text") ? Channel.TEXT : Channel.HTML, body));
        r.put("subject", "Smuggling: " + body);
        r.put(field, body.content);
        return r.toString();
    }

    /** An .eml whose header lines end with {@code eol} and whose body is {@code body}, byte for byte. */
    private static String eml(Channel channel, Body body, String eol) {
        return "From: " + Gateway.SENDER + eol + "To: " + recipient(channel, body) + eol + "Subject: Smuggling "
                + body.name() + eol + "MIME-Version: 1.0" + eol + "Content-Type: text/plain; charset=us-ascii" + eol
                + eol + body.content;
    }

    // --- through the outbox -----------------------------------------------------------------------------

    @ParameterizedTest(name = "text body: {0}")
    @EnumSource(Body.class)
    void smuggling_through_a_text_body(Body body) throws Exception {
        assertOneMessageWithTheWholeBody(sentThroughTheOutbox(Channel.TEXT, body, ".json"), body.content);
    }

    @ParameterizedTest(name = "html body: {0}")
    @EnumSource(Body.class)
    void smuggling_through_an_html_body(Body body) throws Exception {
        assertOneMessageWithTheWholeBody(sentThroughTheOutbox(Channel.HTML, body, ".json"), body.content);
    }

    @ParameterizedTest(name = ".eml body: {0}")
    @EnumSource(Body.class)
    void smuggling_through_an_eml_body(Body body) throws Exception {
        assertOneMessageWithTheWholeBody(sentThroughTheOutbox(Channel.EML, body, ".eml"), body.content);
    }

    @Test
    void smuggling_through_an_eml_written_with_bare_lf_line_ends_throughout() throws Exception {
        Body body = Body.SMUGGLED_AFTER_LF_DOT_LF;
        assertOneMessageWithTheWholeBody(sentThroughTheOutbox(Channel.EML_LF_HEADERS, body, ".eml"), body.content);
    }

    @Test
    void smuggling_through_an_eml_written_with_bare_cr_line_ends_throughout() throws Exception {
        Body body = Body.SMUGGLED_AFTER_CR_DOT_CR;
        assertOneMessageWithTheWholeBody(sentThroughTheOutbox(Channel.EML_CR_HEADERS, body, ".eml"), body.content);
    }

    // --- MimeComposer and a direct send -----------------------------------------------------------------

    @ParameterizedTest(name = "composed text + html (multipart/alternative), sent directly: {0}")
    @EnumSource(Body.class)
    void smuggling_through_composed_text_and_html_parts(Body body) throws Exception {
        String to = recipient(Channel.DIRECT_TEXT_AND_HTML, body);
        MailRequest request = new MailRequest(Gateway.SENDER, List.of(to), List.of(), List.of(), List.of(),
                "Smuggling: " + body, body.content, body.content, null, Map.of(), List.of(), Map.of(),
                MailRequest.Priority.NORMAL, null, null);
        try (OutgoingMessage message = composer.compose(request, name(Channel.DIRECT_TEXT_AND_HTML, body))) {
            sendDirectly(message);
        }

        TestSmtpServer.Received received = assertOneMessage(to);
        Multipart alternative = (Multipart) received.message().getContent();
        assertThat(alternative.getCount()).isEqualTo(2);
        for (int i = 0; i < 2; i++) {
            BodyPart part = alternative.getBodyPart(i);
            assertThat(WireChecks.trimEnd((String) part.getContent())).as("part %d (%s)", i, part.getContentType())
                    .isEqualTo(WireChecks.trimEnd(WireChecks.crlf(body.content)));
        }
    }

    @ParameterizedTest(name = ".eml composed and sent directly: {0}")
    @EnumSource(Body.class)
    void smuggling_through_a_composed_eml(Body body) throws Exception {
        String to = recipient(Channel.DIRECT_EML, body);
        Path file = dir.resolve(name(Channel.DIRECT_EML, body) + ".eml");
        Files.writeString(file, eml(Channel.DIRECT_EML, body, "\r\n"), StandardCharsets.US_ASCII);
        try (OutgoingMessage message = composer.compose(MailRequestReader.fromEml(file),
                name(Channel.DIRECT_EML, body))) {
            sendDirectly(message);
        }

        assertOneMessageWithTheWholeBody(assertOneMessage(to), body.content);
    }

    // --- the checks themselves -------------------------------------------------------------------------

    /**
     * A client that does not dot-stuff (written here by hand, as Angus Mail cannot be made to): the test server ends
     * the data at the body's {@code <CR><LF>.<CR><LF>} and takes the rest as a second transaction from the
     * smuggler, which the checks above report.
     */
    @Test
    void the_checks_see_a_smuggled_second_transaction_when_a_client_lets_one_through() throws Exception {
        try (TestSmtpServer control = TestSmtpServer.withStartTls(MailgateExtension.tls().serverContext(),
                entra.tokens());
                Socket plain = new Socket(InetAddress.getLoopbackAddress(), control.port())) {
            String to = "control@rcpt.example";
            plain.setSoTimeout(10_000);
            RawSmtp client = new RawSmtp(plain);
            client.expect(220);
            client.command("EHLO localhost", 250);
            client.command("STARTTLS", 220);
            SSLSocket tls = (SSLSocket) clientTls().getSocketFactory().createSocket(plain, "localhost",
                    control.port(), true);
            tls.startHandshake();
            client = new RawSmtp(tls);
            client.command("EHLO localhost", 250);
            client.command("AUTH XOAUTH2 " + Base64.getEncoder().encodeToString(("user=" + Gateway.SENDER
                    + "\u0001auth=Bearer " + token() + "\u0001\u0001").getBytes(StandardCharsets.US_ASCII)), 235);
            client.command("MAIL FROM:<" + Gateway.SENDER + ">", 250);
            client.command("RCPT TO:<" + to + ">", 250);
            client.command("DATA", 354);
            client.write("Subject: control\r\n\r\n" + smuggle("\r\n.\r\n"));
            // the first message, then the smuggler's MAIL FROM, RCPT TO, DATA and message
            client.expect(250);
            client.expect(250);
            client.expect(250);
            client.expect(354);
            client.expect(250);
            client.command("QUIT", 221);

            assertThat(control.received()).hasSize(2);
            assertThat(control.mailFromCommands()).isEqualTo(2);
            assertThatThrownBy(() -> assertOneMessage(control, to)).isInstanceOf(AssertionError.class)
                    .hasMessageContaining(SMUGGLER);
        }
    }

    /** SMTP by hand: commands and raw data out, reply codes in. */
    private static final class RawSmtp {
        private final BufferedReader in;
        private final OutputStream out;

        RawSmtp(Socket socket) throws IOException {
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            out = socket.getOutputStream();
        }

        void command(String line, int code) throws IOException {
            write(line + "\r\n");
            expect(code);
        }

        void write(String data) throws IOException {
            out.write(data.getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        void expect(int code) throws IOException {
            String line;
            do {
                line = in.readLine();
                assertThat(line).as("a reply from the server").isNotNull();
            } while (line.length() > 3 && line.charAt(3) == '-');
            assertThat(line).startsWith(Integer.toString(code));
        }
    }

    @Test
    void the_line_end_check_sees_a_bare_lf_and_a_bare_cr() {
        assertThatThrownBy(() -> WireChecks.assertEveryLineEndsWithCrlf("Subject: x\r\n\r\na\nb\r\n".getBytes(
                StandardCharsets.US_ASCII))).isInstanceOf(AssertionError.class).hasMessageContaining("bare LF");
        assertThatThrownBy(() -> WireChecks.assertEveryLineEndsWithCrlf("Subject: x\r\n\r\na\rb\r\n".getBytes(
                StandardCharsets.US_ASCII))).isInstanceOf(AssertionError.class).hasMessageContaining("bare CR");
    }

    // --- everything together ----------------------------------------------------------------------------

    @Test
    @Order(Integer.MAX_VALUE)
    void the_server_saw_exactly_one_mail_transaction_per_request_and_none_from_the_smuggler() {
        OUTBOX_FILES.forEach(f -> assertThat(WireChecks.awaitOutcome(gateway, f).sent()).as(f).isTrue());
        int requests = OUTBOX_FILES.size() + DIRECT_SENDS.get();

        assertThat(smtp.received()).hasSize(requests);
        assertThat(smtp.mailFromCommands()).as("MAIL FROM commands").isEqualTo(requests);
        assertThat(smtp.dataCommands()).as("DATA commands").isEqualTo(requests);
        assertThat(smtp.received()).allSatisfy(r -> {
            assertThat(r.mailFrom()).isEqualTo(Gateway.SENDER);
            assertThat(r.recipients()).hasSize(1).allSatisfy(to -> assertThat(to).endsWith("@rcpt.example"));
        });
    }

    // --- helpers ----------------------------------------------------------------------------------------

    private static TestSmtpServer.Received sentThroughTheOutbox(Channel channel, Body body, String extension) {
        String file = name(channel, body) + extension;
        WireChecks.Outcome outcome = WireChecks.awaitOutcome(gateway, file);
        assertThat(outcome.sent()).as("%s was sent; its outcome: %s", file, outcome.json()).isTrue();
        return assertOneMessage(recipient(channel, body));
    }

    /**
     * Exactly one message reached the server for {@code to}, every line of its data ends with CRLF, and no message
     * the server got so far comes from or goes to the smuggler's addresses or is the smuggled one.
     */
    private static TestSmtpServer.Received assertOneMessage(String to) {
        return assertOneMessage(smtp, to);
    }

    private static TestSmtpServer.Received assertOneMessage(TestSmtpServer server, String to) {
        List<TestSmtpServer.Received> mine = server.received().stream().filter(r -> r.recipients().contains(to))
                .toList();
        assertThat(mine).as("messages the server received for %s", to).hasSize(1);
        assertThat(mine.get(0).recipients()).containsExactly(to);
        WireChecks.assertEveryLineEndsWithCrlf(mine.get(0).data());
        assertThat(server.received()).allSatisfy(r -> {
            assertThat(r.mailFrom()).isNotEqualTo(SMUGGLER);
            assertThat(r.recipients()).doesNotContain(VICTIM);
            assertThat(subject(r)).isNotEqualTo("smuggled");
        });
        return mine.get(0);
    }

    /** Subjects of the messages received so far, each parsed once: every test looks at all of them again. */
    private static final Map<TestSmtpServer.Received, Optional<String>> SUBJECTS = new IdentityHashMap<>();

    /** The Subject of a received message, as {@code received.message().getSubject()} reads it. */
    private static synchronized String subject(TestSmtpServer.Received received) throws MessagingException {
        Optional<String> subject = SUBJECTS.get(received);
        if (subject == null) {
            subject = Optional.ofNullable(received.message().getSubject());
            SUBJECTS.put(received, subject);
        }
        return subject.orElse(null);
    }

    /** The single-part body on the wire is the request's body, line ends as CRLF, dots as they were. */
    private static void assertOneMessageWithTheWholeBody(TestSmtpServer.Received received, String body)
            throws MessagingException, IOException {
        assertThat(WireChecks.trimEnd(WireChecks.body(received.data()))).as("the body as the server received it")
                .isEqualTo(WireChecks.trimEnd(WireChecks.crlf(body)));
        MimeMessage parsed = received.message();
        assertThat(WireChecks.trimEnd((String) parsed.getContent())).as("the body as a recipient reads it")
                .isEqualTo(WireChecks.trimEnd(WireChecks.crlf(body)));
    }

    /** Sends as the gateway's mailbox over STARTTLS + XOAUTH2 with a token from the test Entra ID. */
    private static void sendDirectly(OutgoingMessage message) throws MessagingException {
        Transport transport = session().getTransport("smtp");
        try {
            transport.connect("localhost", smtp.port(), message.mailbox(), token());
            transport.sendMessage(message, message.getAllRecipients());
            DIRECT_SENDS.incrementAndGet();
        } finally {
            transport.close();
        }
    }

    private static Session session;
    private static SSLContext clientTls;

    /** Angus Mail's SMTP client as the gateway configures it: STARTTLS required, then XOAUTH2. */
    private static synchronized Session session() {
        if (session == null) {
            session = newSession();
        }
        return session;
    }

    private static Session newSession() {
        Properties p = new Properties();
        p.put("mail.smtp.starttls.enable", "true");
        p.put("mail.smtp.starttls.required", "true");
        p.put("mail.smtp.auth", "true");
        p.put("mail.smtp.auth.mechanisms", "XOAUTH2");
        p.put("mail.smtp.ssl.socketFactory", clientTls().getSocketFactory());
        return Session.getInstance(p);
    }

    private static String token() {
        return entra.tokens().issue(TestEntra.CLIENT_ID, Duration.ofHours(1));
    }

    /** A client that trusts the test certificate only. */
    private static synchronized SSLContext clientTls() {
        if (clientTls == null) {
            clientTls = newClientTls();
        }
        return clientTls;
    }

    private static SSLContext newClientTls() {
        try {
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(MailgateExtension.tls().trustStore());
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return context;
        } catch (NoSuchAlgorithmException | KeyStoreException | java.security.KeyManagementException e) {
            throw new IllegalStateException(e);
        }
    }
}
