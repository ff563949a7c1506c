package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import jakarta.mail.BodyPart;
import jakarta.mail.Multipart;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.outcome.Journal;
import dev.mailgate.request.AttachmentRoot;
import dev.mailgate.request.InvalidRequestException;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * Attachment paths that try to leave the attachment root, one test per attack, against the real gateway (one for
 * the class): through the outbox (the file ends in {@code .failed/} with the field named, and nothing is sent) and
 * through the HTTP API's multipart form, whose {@code path} resolves among the request's own file parts.
 * <p>
 * Unit-level variants of most cases are in {@code AttachmentRootTest}; the outbox's {@code ../../secret.txt} case
 * is in {@code OutboxChannelTest}, the HTTP JSON body's {@code ../../etc/passwd} in {@code HttpApiTest}.
 */
class AttachmentTraversalTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String KEY = "traversal-test-api-key-0123456789";
    private static final String FIELD = "attachments[0].path";
    /** The content of every file outside the roots: it must never appear in a sent message. */
    private static final String SECRET = "TOP-SECRET-content-outside-the-attachment-root";

    @TempDir
    static Path dir;

    private static final SelfSignedCertificate TLS = SelfSignedCertificate.forLocalhost();
    private static TestEntra entra;
    private static TestSmtpServer smtp;
    private static Gateway gateway;
    private static Http http;

    @BeforeAll
    static void start() throws IOException {
        entra = new TestEntra(TLS, null);
        smtp = TestSmtpServer.withStartTls(TLS.serverContext(), entra.tokens());
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), TLS);
        properties.put("mailgate.http.api-keys", KEY);
        gateway = Gateway.start(dir, properties);
        http = new Http(Integer.parseInt(properties.get("mailgate.http.port")));
        // things worth stealing: next to the work folder, next to the attachment root, in a folder whose name
        // starts with the root's name, and another HTTP request's upload folder
        Files.writeString(dir.resolve("secret"), SECRET);
        Files.writeString(gateway.outbox().resolve("secret"), SECRET);
        Files.writeString(Files.createDirectories(gateway.outbox().resolve("attachments-evil")).resolve("x"), SECRET);
        Files.writeString(Files.createDirectories(dir.resolve("data/uploads/victim")).resolve("x.txt"), SECRET);
    }

    @AfterAll
    static void stop() {
        gateway.close();
        smtp.close();
        entra.close();
    }

    // --- the outbox, end to end ---------------------------------------------------------------------------

    @Test
    void outbox_dot_dot_alone_is_refused() {
        assertOutboxRefuses("dot-dot", "..").contains("climbs out with '..'");
    }

    @Test
    void outbox_absolute_path_to_etc_passwd_is_refused() {
        assertOutboxRefuses("absolute", "/etc/passwd").contains("is an absolute path");
        assertThat(smtp.received()).noneMatch(r -> r.text().contains("root:x:0:0"));
    }

    @Test
    void outbox_url_encoded_dots_are_refused() {
        assertOutboxRefuses("encoded-dots", "%2e%2e/secret").contains("encoded or control characters");
    }

    @Test
    void outbox_url_encoded_dots_and_slash_are_refused() {
        assertOutboxRefuses("encoded-dots-slash", "%2e%2e%2fsecret").contains("encoded or control characters");
    }

    @Test
    void outbox_symlink_inside_the_root_pointing_outside_is_refused() throws IOException {
        Files.createSymbolicLink(gateway.outbox().resolve("attachments/innocent.pdf"), dir.resolve("secret"));

        assertOutboxRefuses("symlink-file", "innocent.pdf").contains("is a link that leads outside");
    }

    @Test
    void outbox_file_below_a_symlinked_directory_pointing_outside_is_refused() throws IOException {
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
        Files.writeString(elsewhere.resolve("report.pdf"), SECRET);
        Files.createSymbolicLink(gateway.outbox().resolve("attachments/reports"), elsewhere);

        assertOutboxRefuses("symlink-dir", "reports/report.pdf").contains("is a link that leads outside");
    }

    @Test
    void outbox_sibling_folder_sharing_the_root_name_prefix_is_refused() {
        // the root is outbox/attachments; a string-prefix check would let outbox/attachments-evil/x through
        assertOutboxRefuses("sibling-prefix", "../attachments-evil/x").contains("climbs out with '..'");
    }

    @Test
    void outbox_symlink_into_a_sibling_folder_sharing_the_root_name_prefix_is_refused() throws IOException {
        Files.createSymbolicLink(gateway.outbox().resolve("attachments/evil-link"),
                gateway.outbox().resolve("attachments-evil/x"));

        assertOutboxRefuses("sibling-prefix-link", "evil-link").contains("is a link that leads outside");
    }

    @Test
    void outbox_backslash_dot_dot_is_refused() {
        // on Linux "..\secret" is one (missing) file name inside the root, never the parent's "secret"
        assertOutboxRefuses("backslash", "..\\secret");
    }

    @Test
    void outbox_nul_in_the_path_is_refused() throws IOException {
        Files.writeString(gateway.outbox().resolve("attachments/a.txt"), "harmless");

        assertOutboxRefuses("nul", "a.txt\u0000../../secret").contains("encoded or control characters");
    }

    // --- the HTTP API's multipart form ----------------------------------------------------------------------

    @Test
    void multipart_dot_dot_alone_is_refused() {
        assertMultipartRefuses("mp-dot-dot", "..");
    }

    @Test
    void multipart_dot_dot_to_etc_passwd_is_refused() {
        assertMultipartRefuses("mp-etc-passwd", "../../etc/passwd");
    }

    @Test
    void multipart_absolute_path_to_etc_passwd_is_refused() {
        assertMultipartRefuses("mp-absolute", "/etc/passwd");
    }

    @Test
    void multipart_url_encoded_dots_are_refused() {
        assertMultipartRefuses("mp-encoded-dots", "%2e%2e/secret");
    }

    @Test
    void multipart_url_encoded_dots_and_slash_are_refused() {
        assertMultipartRefuses("mp-encoded-dots-slash", "%2e%2e%2fsecret");
    }

    @Test
    void multipart_another_requests_upload_folder_via_dot_dot_is_refused() {
        // the root is data/uploads/<this request's id>; data/uploads/victim is a neighbour's
        assertMultipartRefuses("mp-neighbour", "../victim/x.txt");
    }

    @Test
    void multipart_sibling_folder_sharing_the_uploads_name_prefix_is_refused() throws IOException {
        Files.writeString(Files.createDirectories(dir.resolve("data/uploads-evil")).resolve("x"), SECRET);

        assertMultipartRefuses("mp-sibling-prefix", "../../uploads-evil/x");
    }

    @Test
    void multipart_backslash_dot_dot_is_refused() {
        assertMultipartRefuses("mp-backslash", "..\\secret");
    }

    @Test
    void multipart_nul_in_the_path_is_refused() {
        assertMultipartRefuses("mp-nul", "innocent.txt\u0000../../secret");
    }

    @Test
    void multipart_file_part_named_with_dot_dot_is_stored_inside_the_request_folder_only() throws Exception {
        assertUploadStaysInside("../../../escaped-dotdot.txt", "escaped-dotdot.txt");
    }

    @Test
    void multipart_file_part_named_with_backslashes_is_stored_inside_the_request_folder_only() throws Exception {
        // in the quoted filename parameter a backslash is escaped by another: this reaches the server as ..\..\..\x
        assertUploadStaysInside("..\\\\..\\\\..\\\\escaped-backslash.txt", "escaped-backslash.txt");
    }

    @Test
    void multipart_file_part_named_with_an_absolute_path_is_stored_inside_the_request_folder_only() throws Exception {
        assertUploadStaysInside("/etc/escaped-absolute.txt", "escaped-absolute.txt");
    }

    // --- unit level: the one case AttachmentRootTest does not have --------------------------------------------

    @Test
    void backslash_dot_dot_never_reaches_the_parent_folder() throws IOException {
        Path root = Files.createDirectories(dir.resolve("unit/attachments"));
        Files.writeString(dir.resolve("unit/secret"), SECRET);

        Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(
                () -> new AttachmentRoot(root).resolve(FIELD, "..\\secret"));

        assertThat(thrown).isInstanceOf(InvalidRequestException.class);
        assertThat(((InvalidRequestException) thrown).problems().get(0).field()).isEqualTo(FIELD);
    }

    // --- helpers ---------------------------------------------------------------------------------------------

    /** A request whose subject is its name and whose one attachment has {@code path}. */
    private static String request(String name, String path) {
        ObjectNode request = JSON.createObjectNode().put("to", "alice@example.com").put("subject", name)
                .put("text", "x");
        request.putArray("attachments").addObject().put("path", path);
        return request.toString();
    }

    /**
     * Drops the request into the outbox and checks that it ended in {@code .failed/} as an invalid request whose
     * error names the attachment field, that its journal entry failed, and that nothing went out for it.
     *
     * @return the field's error message, for the test to check why
     */
    private static org.assertj.core.api.AbstractStringAssert<?> assertOutboxRefuses(String name, String path) {
        gateway.drop(name + ".json", request(name, path));

        JsonNode error = gateway.awaitFailed(name + ".json");

        assertThat(error.path("category").asText()).isEqualTo("invalid-request");
        assertThat(error.path("errors")).hasSize(1);
        assertThat(error.path("errors").get(0).path("field").asText()).isEqualTo(FIELD);
        assertThat(gateway.outbox().resolve(".failed").resolve(name + ".json")).exists();
        // never handed to the queue: the journal has no entry for it, or one that did not get further than failing
        assertThat(gateway.journal().find(error.path("id").asText()).map(Journal.Entry::state)
                .orElse(Journal.State.FAILED)).isEqualTo(Journal.State.FAILED);
        assertNothingSent(name);
        return assertThat(error.path("errors").get(0).path("message").asText());
    }

    /** Posts a multipart request with one harmless file part and an attachment {@code path}: 400, nothing sent. */
    private static void assertMultipartRefuses(String name, String path) {
        Map<String, byte[]> files = Map.of("innocent.txt", "harmless".getBytes(StandardCharsets.UTF_8));

        HttpResponse<String> response = http.postMultipart(KEY, request(name, path), files);

        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        JsonNode problem = Http.json(response);
        assertThat(problem.path("errors")).extracting(e -> e.path("field").asText()).containsExactly(FIELD);
        assertThat(response.body()).doesNotContain(dir.toString(), "uploads/", SECRET);
        assertNothingSent(name);
    }

    /**
     * A file part whose file name is a path: accepted and attached under its plain name (or refused), and no file
     * of that name appears anywhere outside the uploads folder.
     */
    private static void assertUploadStaysInside(String partName, String plainName) throws Exception {
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put(partName, "uploaded".getBytes(StandardCharsets.UTF_8));
        String subject = "upload-" + plainName;
        ObjectNode request = JSON.createObjectNode().put("to", "alice@example.com").put("subject", subject)
                .put("text", "x");

        HttpResponse<String> response = http.postMultipart(KEY, request.toString(), files);

        assertThat(response.statusCode()).as(response.body()).isIn(202, 400);
        if (response.statusCode() == 202) {
            String id = Http.json(response).path("id").asText();
            gateway.awaitState(id, Journal.State.SENT);
            TestSmtpServer.Received mail = smtp.received().stream()
                    .filter(r -> r.text().contains("X-Mailgate-Id: " + id)).findFirst().orElseThrow();
            BodyPart attachment = ((Multipart) mail.message().getContent()).getBodyPart(1);
            assertThat(attachment.getFileName()).doesNotContain("/", "\\").isNotIn(".", "..").endsWith(plainName);
        }
        Path uploads = dir.resolve("data/uploads");
        List<Path> found;
        try (Stream<Path> walk = Files.walk(dir)) {
            found = walk.filter(p -> p.getFileName().toString().contains(plainName)).toList();
        }
        assertThat(found).allMatch(p -> p.startsWith(uploads) && !p.getParent().equals(uploads), "inside an upload "
                + "folder");
        assertThat(dir.getParent().resolve(plainName)).doesNotExist();
        assertThat(Path.of(plainName)).doesNotExist();
        assertThat(Path.of("/etc", plainName)).doesNotExist();
    }

    /** No message with this subject reached the server, and no message it received carries a secret. */
    private static void assertNothingSent(String subject) {
        assertThat(smtp.received()).noneMatch(r -> r.text().contains("Subject: " + subject + "\r\n"));
        assertThat(smtp.received()).noneMatch(AttachmentTraversalTest::carriesTheSecret);
    }

    private static boolean carriesTheSecret(TestSmtpServer.Received received) {
        try {
            if (!(received.message().getContent() instanceof Multipart parts)) {
                return received.text().contains(SECRET);
            }
            for (int i = 0; i < parts.getCount(); i++) {
                if (new String(parts.getBodyPart(i).getInputStream().readAllBytes(), StandardCharsets.UTF_8)
                        .contains(SECRET)) {
                    return true;
                }
            }
            return false;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
