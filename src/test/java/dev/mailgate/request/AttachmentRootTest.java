package dev.mailgate.request;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.support.FifoFlipper;
import dev.mailgate.support.SpecialFiles;

class AttachmentRootTest {

    private static final String FIELD = "attachments[2].path";
    private static final String INSIDE = "inside: the quarterly figures";
    /** Enough calls that code which opens without a bound hits the FIFO (the review saw it after 454). */
    private static final int OPENS = 4000;

    @TempDir
    Path tmp;

    private Path folder;
    private AttachmentRoot root;

    @BeforeEach
    void setUp() throws IOException {
        folder = Files.createDirectories(tmp.resolve("attachments"));
        root = new AttachmentRoot(folder);
        // something worth stealing next to the root
        Files.writeString(tmp.resolve("secret.txt"), "secret");
    }

    private Problem rejection(String relative) {
        Throwable thrown = catchThrowable(() -> root.resolve(FIELD, relative));
        assertThat(thrown).isInstanceOf(InvalidRequestException.class);
        return ((InvalidRequestException) thrown).problems().get(0);
    }

    private void assertRejected(String relative, String phrase) {
        Problem problem = rejection(relative);
        assertThat(problem.field()).isEqualTo(FIELD);
        assertThat(problem.message()).contains(phrase);
    }

    @Test
    void resolves_a_nested_relative_path_to_the_real_file() throws IOException {
        Path file = Files.writeString(Files.createDirectories(folder.resolve("2024/06")).resolve("report.pdf"), "pdf");

        Path resolved = root.resolve(FIELD, "2024/06/report.pdf");

        assertThat(resolved).isEqualTo(file.toRealPath());
        assertThat(Files.readString(resolved)).isEqualTo("pdf");
    }

    @Test
    void resolves_a_path_with_a_harmless_dot_segment() throws IOException {
        Path file = Files.writeString(folder.resolve("a.txt"), "a");

        assertThat(root.resolve(FIELD, "./a.txt")).isEqualTo(file.toRealPath());
    }

    @Test
    void rejects_attachment_path_that_climbs_out_with_dot_dot() {
        assertRejected("../secret.txt", "climbs out with '..'");
    }

    @Test
    void rejects_dot_dot_after_a_subfolder_that_climbs_out() throws IOException {
        Files.createDirectories(folder.resolve("a"));

        assertRejected("a/../../secret.txt", "climbs out with '..'");
    }

    @Test
    void rejects_dot_dot_even_when_it_stays_inside() throws IOException {
        Files.writeString(Files.createDirectories(folder.resolve("a")).resolve("x.txt"), "x");

        assertRejected("a/../a/x.txt", "climbs out with '..'");
    }

    @Test
    void rejects_a_unix_absolute_path() {
        assertRejected("/etc/passwd", "is an absolute path");
    }

    @Test
    void rejects_an_absolute_path_pointing_into_the_root_itself() throws IOException {
        Path file = Files.writeString(folder.resolve("a.txt"), "a");

        assertRejected(file.toString(), "is an absolute path");
    }

    @Test
    void rejects_a_windows_drive_path() {
        assertRejected("C:\\x", "is an absolute path");
    }

    @Test
    void rejects_a_windows_unc_path() {
        assertRejected("\\\\server\\share", "is an absolute path");
    }

    @Test
    void rejects_url_encoded_dots() {
        assertRejected("%2e%2e/secret.txt", "contains encoded or control characters");
    }

    @Test
    void rejects_url_encoded_upper_case_dots() {
        assertRejected("%2E%2E/secret.txt", "contains encoded or control characters");
    }

    @Test
    void rejects_url_encoded_slash() {
        assertRejected("..%2fsecret.txt", "contains encoded or control characters");
    }

    @Test
    void rejects_url_encoded_backslash() {
        assertRejected("..%5csecret.txt", "contains encoded or control characters");
    }

    @Test
    void rejects_a_nul_character_and_prints_it_harmlessly() {
        Problem problem = rejection("a.txt\0.pdf");

        assertThat(problem.field()).isEqualTo(FIELD);
        assertThat(problem.message()).contains("'a.txt?.pdf' contains encoded or control characters")
                .doesNotContain("\0");
    }

    @Test
    void rejects_a_symlink_inside_the_root_that_points_outside() throws IOException {
        Files.createSymbolicLink(folder.resolve("innocent.txt"), tmp.resolve("secret.txt"));

        assertRejected("innocent.txt", "is a link that leads outside the attachments folder");
    }

    @Test
    void rejects_a_file_below_a_symlinked_folder_that_points_outside() throws IOException {
        Path outside = Files.createDirectories(tmp.resolve("elsewhere"));
        Files.writeString(outside.resolve("x.txt"), "x");
        Files.createSymbolicLink(folder.resolve("docs"), outside);

        assertRejected("docs/x.txt", "is a link that leads outside the attachments folder");
    }

    @Test
    void rejects_a_sibling_folder_that_shares_the_name_prefix() throws IOException {
        Files.writeString(Files.createDirectories(tmp.resolve("attachments-evil")).resolve("x"), "x");

        assertRejected("../attachments-evil/x", "climbs out with '..'");
    }

    @Test
    void rejects_a_symlink_into_a_sibling_folder_that_shares_the_name_prefix() throws IOException {
        Path evil = Files.writeString(Files.createDirectories(tmp.resolve("attachments-evil")).resolve("x"), "x");
        Files.createSymbolicLink(folder.resolve("x"), evil);

        assertRejected("x", "is a link that leads outside the attachments folder");
    }

    @Test
    void accepts_a_symlink_that_stays_inside_the_root() throws IOException {
        Path target = Files.writeString(Files.createDirectories(folder.resolve("store")).resolve("a.txt"), "a");
        Files.createSymbolicLink(folder.resolve("latest.txt"), target);

        assertThat(root.resolve(FIELD, "latest.txt")).isEqualTo(target.toRealPath());
    }

    // --- reserved folders: another user's files below the same root ------------------------------------------------

    private AttachmentRoot reservingMine() {
        return root.reserving(name -> name.equalsIgnoreCase("mine"), "is in a reserved folder; use your own");
    }

    @Test
    void a_path_into_a_reserved_folder_is_refused_before_anything_is_looked_up() {
        // no file is there: the answer must not tell whether one is
        Throwable thrown = catchThrowable(() -> reservingMine().resolve(FIELD, "./MINE/missing.pdf"));

        assertThat(thrown).isInstanceOf(InvalidRequestException.class);
        assertThat(((InvalidRequestException) thrown).problems().get(0).message())
                .isEqualTo("'./MINE/missing.pdf' is in a reserved folder; use your own");
    }

    @Test
    void a_link_of_ones_own_into_a_reserved_folder_is_refused() throws IOException {
        Files.writeString(Files.createDirectories(folder.resolve("mine")).resolve("secret.pdf"), "theirs");
        Files.createSymbolicLink(folder.resolve("shortcut"), folder.resolve("mine"));

        Throwable thrown = catchThrowable(() -> reservingMine().resolve(FIELD, "shortcut/secret.pdf"));

        assertThat(thrown).isInstanceOf(InvalidRequestException.class);
        assertThat(((InvalidRequestException) thrown).problems().get(0).message())
                .isEqualTo("'shortcut/secret.pdf' is in a reserved folder; use your own");
        assertThat(root.resolve(FIELD, "mine/secret.pdf")).as("the root without the reservation")
                .isEqualTo(folder.resolve("mine/secret.pdf").toRealPath());
    }

    @Test
    void rejects_a_directory() throws IOException {
        Files.createDirectories(folder.resolve("reports"));

        assertRejected("reports", "is not a regular file");
    }

    @Test
    void rejects_the_root_itself() {
        assertRejected(".", "is outside the attachments folder");
    }

    @Test
    void rejects_a_missing_file_and_says_where_to_put_it() {
        assertRejected("missing.pdf", "does not exist in the attachments folder");
    }

    @Test
    void rejects_an_empty_path() {
        assertRejected(" ", "is empty");
    }

    @Test
    void works_when_the_root_is_reached_through_a_symlink() throws IOException {
        Path link = Files.createSymbolicLink(tmp.resolve("link-to-attachments"), folder);
        Path file = Files.writeString(folder.resolve("a.txt"), "a");

        assertThat(new AttachmentRoot(link).resolve(FIELD, "a.txt")).isEqualTo(file.toRealPath());
    }

    // --- open: the read that cannot be raced -------------------------------------------------------------------

    @Test
    void opens_a_checked_file_by_a_walk_from_the_root_through_a_linked_root() throws IOException {
        Path link = Files.createSymbolicLink(tmp.resolve("link-to-attachments"), folder);
        Files.writeString(Files.createDirectories(folder.resolve("2024")).resolve("a.txt"), "inside");
        AttachmentRoot viaLink = new AttachmentRoot(link);
        Path checked = viaLink.resolve(FIELD, "2024/a.txt");

        try (FileChannel channel = AttachmentRoot.open(FIELD, viaLink.realPath(), checked)) {
            assertThat(read(channel)).isEqualTo("inside");
        }
    }

    @Test
    void a_file_swapped_for_a_link_to_a_secret_after_the_check_is_refused_not_read() throws IOException {
        Path file = Files.writeString(folder.resolve("x"), "inside");
        Path checked = root.resolve(FIELD, "x");
        Files.delete(file);
        Files.createSymbolicLink(file, tmp.resolve("secret.txt"));

        assertOpenRefused(checked, "changed after it was checked: it is now a link");
    }

    @Test
    void a_folder_swapped_for_a_link_after_the_check_is_refused_not_followed() throws IOException {
        Path sub = Files.createDirectories(folder.resolve("sub"));
        Files.writeString(sub.resolve("secret.txt"), "inside");
        Path checked = root.resolve(FIELD, "sub/secret.txt");
        Files.delete(sub.resolve("secret.txt"));
        Files.delete(sub);
        // the same name below, in a folder outside
        Files.createSymbolicLink(sub, tmp);

        assertOpenRefused(checked, "'sub' on its path is now a link");
    }

    @Test
    void a_fifo_that_is_already_in_place_when_open_looks_is_refused_without_opening_it() throws Exception {
        Path file = Files.writeString(folder.resolve("x"), "inside");
        Path checked = root.resolve(FIELD, "x");
        Files.delete(file);
        SpecialFiles.mkfifo(file);

        // opening a FIFO for reading would block until a writer comes: the walk looks before it opens. A FIFO that
        // comes between the look and the open is the race below
        assertOpenRefused(checked, "is not a regular file");
    }

    @Test
    void a_fifo_flipped_in_between_the_look_and_the_open_never_blocks_open_and_is_never_read() throws Exception {
        Path x = folder.resolve("x");
        Files.writeString(x, INSIDE);
        Path checked = root.resolve(FIELD, "x");

        try (FifoFlipper flipper = new FifoFlipper(x, INSIDE)) {
            assertEveryOpenEndsWithTheFileOrARefusal(checked, flipper);
        }
    }

    @Test
    void a_fifo_with_a_writer_flipped_in_between_the_look_and_the_open_is_refused_before_it_is_read() throws Exception {
        Path x = folder.resolve("x");
        Files.writeString(x, INSIDE);
        Path checked = root.resolve(FIELD, "x");

        // the attacker holds the FIFO open for writing and writes nothing: open() returns at once, a read waits
        // for ever
        try (FifoFlipper flipper = new FifoFlipper(x, INSIDE).withWriter()) {
            assertEveryOpenEndsWithTheFileOrARefusal(checked, flipper);
        }
    }

    /**
     * Calls {@link AttachmentRoot#open} {@value #OPENS} times on a helper thread while {@code x} flips, and reads what
     * it opened: every call must return (the whole run within a generous bound) with the plain file's bytes or a
     * refusal naming the field; a call stuck in {@code open()} or {@code read()} of the FIFO fails the test.
     */
    private void assertEveryOpenEndsWithTheFileOrARefusal(Path checked, FifoFlipper flipper) throws Exception {
        AtomicInteger calls = new AtomicInteger();
        Map<String, Integer> outcomes = new ConcurrentHashMap<>();
        ExecutorService caller = Executors.newSingleThreadExecutor(task -> {
            Thread thread = new Thread(task, "attachment-opener");
            thread.setDaemon(true);
            return thread;
        });
        try {
            Future<?> run = caller.submit(() -> {
                for (int i = 0; i < OPENS; i++) {
                    outcomes.merge(outcome(checked), 1, Integer::sum);
                    calls.incrementAndGet();
                }
                return null;
            });
            try {
                Awaitility.await().atMost(Duration.ofSeconds(60)).until(run::isDone);
            } catch (ConditionTimeoutException e) {
                throw new AssertionError("open() or the read of what it opened did not return: stuck after "
                        + calls.get() + " calls (" + outcomes + ")", e);
            }
            run.get();
        } finally {
            flipper.close();
            caller.shutdownNow();
        }
        // for the record: how often the race was won (the refusal while opening), in the test's output file
        System.out.println(OPENS + " opens while x flipped " + flipper.flips() + " times: " + outcomes);
        assertThat(flipper.flips()).as("x was flipped while it was opened").isGreaterThan(100);
        assertThat(outcomes.keySet()).as("what the calls gave (the plain file's bytes, or a refusal)").isSubsetOf(
                INSIDE, "refused: 'x' is not a regular file",
                "refused: 'x' was replaced by something that is not a plain file while Mailgate opened it");
        assertThat(outcomes.get(INSIDE)).as("the plain file was read while it was in place").isPositive();
    }

    /** The bytes read through {@link AttachmentRoot#open}, or the refusal: its message up to the first '(' or '.'. */
    private String outcome(Path checked) throws IOException {
        try (FileChannel channel = AttachmentRoot.open(FIELD, root.realPath(), checked)) {
            return read(channel);
        } catch (InvalidRequestException e) {
            Problem problem = e.problems().get(0);
            assertThat(problem.field()).isEqualTo(FIELD);
            return "refused: " + problem.message().split(" \\(|[.;:]", 2)[0];
        }
    }

    @Test
    void a_file_removed_after_the_check_is_reported_as_gone() throws IOException {
        Path file = Files.writeString(folder.resolve("x"), "inside");
        Path checked = root.resolve(FIELD, "x");
        Files.delete(file);

        assertOpenRefused(checked, "no longer exists");
    }

    @Test
    void a_path_outside_the_root_is_refused() {
        assertOpenRefused(tmp.resolve("secret.txt"), "is not inside its attachments folder");
    }

    private void assertOpenRefused(Path checked, String phrase) {
        Throwable thrown = catchThrowable(() -> AttachmentRoot.open(FIELD, root.realPath(), checked).close());
        assertThat(thrown).isInstanceOf(InvalidRequestException.class);
        Problem problem = ((InvalidRequestException) thrown).problems().get(0);
        assertThat(problem.field()).isEqualTo(FIELD);
        assertThat(problem.message()).contains(phrase).doesNotContain("secret\n");
    }

    private static String read(FileChannel channel) throws IOException {
        return new String(Channels.newInputStream(channel).readAllBytes(), StandardCharsets.UTF_8);
    }
}
