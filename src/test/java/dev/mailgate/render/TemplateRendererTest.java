package dev.mailgate.render;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.mailgate.request.InvalidRequestException;
import dev.mailgate.request.Problem;

class TemplateRendererTest {

    @TempDir
    Path templates;

    private TemplateRenderer renderer;

    @BeforeEach
    void setUp() {
        renderer = new TemplateRenderer(templates);
    }

    private void write(String file, String content) throws IOException {
        Files.writeString(templates.resolve(file), content);
    }

    private static Problem problemOf(Runnable call) {
        Throwable thrown = catchThrowable(call::run);
        assertThat(thrown).isInstanceOf(InvalidRequestException.class);
        return ((InvalidRequestException) thrown).problems().get(0);
    }

    @Test
    void escapes_html_from_data_in_an_ftlh_template() throws IOException {
        write("note.html.ftlh", "<p>Hello ${name}</p>");

        TemplateRenderer.Rendered r = renderer.render("note", Map.of("name", "<script>alert('x')</script>"));

        assertThat(r.html()).isEqualTo("<p>Hello &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>");
    }

    @Test
    void does_not_escape_the_plain_text_template() throws IOException {
        write("note.html.ftlh", "<p>${name}</p>");
        write("note.txt.ftl", "Dear ${name},");

        TemplateRenderer.Rendered r = renderer.render("note", Map.of("name", "Tom & Jerry <tj@example.com>"));

        assertThat(r.text()).isEqualTo("Dear Tom & Jerry <tj@example.com>,");
        assertThat(r.html()).isEqualTo("<p>Tom &amp; Jerry &lt;tj@example.com&gt;</p>");
    }

    @Test
    void uses_the_txt_template_for_the_text_part_when_present() throws IOException {
        write("note.html.ftlh", "<p>HTML version for ${name}</p>");
        write("note.txt.ftl", "Text version for ${name}");

        TemplateRenderer.Rendered r = renderer.render("note", Map.of("name", "Ann"));

        assertThat(r.text()).isEqualTo("Text version for Ann");
        assertThat(r.html()).isEqualTo("<p>HTML version for Ann</p>");
    }

    @Test
    void renders_a_text_only_template_without_html() throws IOException {
        write("plain.txt.ftl", "Only text, ${name}");

        TemplateRenderer.Rendered r = renderer.render("plain", Map.of("name", "Ann"));

        assertThat(r.text()).isEqualTo("Only text, Ann");
        assertThat(r.html()).isNull();
        assertThat(r.subject()).isNull();
    }

    @Test
    void derives_the_text_part_from_the_html_when_there_is_no_txt_template() throws IOException {
        write("note.html.ftlh", """
                <html><body>
                <h1>Welcome, ${name}!</h1>
                <p>Your account is <b>ready</b>.</p>
                <ul><#list items as item><li>${item}</li></#list></ul>
                <p>Read <a href="https://example.com/guide">the guide</a> or
                <a href="https://example.com">https://example.com</a>.<br>Regards</p>
                </body></html>""");

        TemplateRenderer.Rendered r = renderer.render("note",
                Map.of("name", "Ann", "items", List.of("Read the guide", "Set your password")));

        assertThat(r.text()).doesNotContain("<", ">")
                .contains("Welcome, Ann!")
                .contains("Your account is ready.")
                .contains("- Read the guide\n- Set your password")
                .contains("the guide (https://example.com/guide)")
                // a link whose text is its address is not repeated
                .doesNotContain("https://example.com (https://example.com)")
                .contains("\nRegards");
    }

    @Test
    void separates_paragraphs_of_compact_html_by_a_blank_line_however_the_html_is_laid_out() throws IOException {
        write("note.html.ftlh", "<p>First</p><p>Second</p><div>Third</div>");

        assertThat(renderer.render("note", Map.of()).text()).isEqualTo("First\n\nSecond\n\nThird\n");
    }

    @Test
    void keeps_a_blank_line_between_paragraphs_written_on_separate_lines() throws IOException {
        write("note.html.ftlh", "<p>First</p>\n<p>Second</p>\n\n\n<p>Third</p>");

        assertThat(renderer.render("note", Map.of()).text()).isEqualTo("First\n\nSecond\n\nThird\n");
    }

    @Test
    void renders_the_subject_from_the_subject_template_without_surrounding_whitespace() throws IOException {
        write("note.html.ftlh", "<p>x</p>");
        write("note.subject.ftl", "  Welcome, ${name}\n");

        assertThat(renderer.render("note", Map.of("name", "Ann")).subject()).isEqualTo("Welcome, Ann");
    }

    @Test
    void reports_a_missing_variable_on_the_data_field_naming_it() throws IOException {
        write("note.html.ftlh", "<p>Hello</p>\n<p>${name}</p>");

        Problem problem = problemOf(() -> renderer.render("note", Map.of()));

        assertThat(problem.field()).isEqualTo("data");
        assertThat(problem.message()).contains("'note.html.ftlh' needs a value for 'name'").contains("line 2");
    }

    @Test
    void reports_a_missing_nested_value_with_its_full_path() throws IOException {
        write("note.html.ftlh", "<p>${customer.name}</p>");

        Problem problem = problemOf(() -> renderer.render("note", Map.of("customer", Map.of("id", 7))));

        assertThat(problem.field()).isEqualTo("data");
        assertThat(problem.message()).contains("needs a value for 'customer.name'");
    }

    @Test
    void reports_a_template_syntax_error_as_configuration_naming_the_file() throws IOException {
        write("broken.html.ftlh", "<p>${name</p>");

        assertThatThrownBy(() -> renderer.render("broken", Map.of("name", "x")))
                .isInstanceOf(dev.mailgate.config.ConfigurationException.class)
                .hasMessageContaining("template file broken.html.ftlh cannot be parsed")
                .hasMessageContaining("mailgate.templates.dir");
    }

    @Test
    void finds_a_template_in_the_folder() throws IOException {
        write("note.html.ftlh", "<p>x</p>");

        assertThat(renderer.exists("note")).isTrue();
    }

    @Test
    void does_not_find_an_unknown_template() {
        assertThat(renderer.exists("invoice")).isFalse();
    }

    @Test
    void does_not_count_a_subject_template_alone_as_a_template() throws IOException {
        write("lonely.subject.ftl", "Subject");

        assertThat(renderer.exists("lonely")).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"../note", "sub/note", "..", "note/../note", "", ".note", "note.html"})
    void does_not_find_names_that_are_not_plain_template_names(String name) throws IOException {
        write("note.html.ftlh", "<p>x</p>");
        Files.createDirectories(templates.resolve("sub"));
        write("sub/note.html.ftlh", "<p>x</p>");

        assertThat(renderer.exists(name)).isFalse();
    }

    @Test
    void refuses_to_render_a_name_with_a_path() throws IOException {
        Path outside = templates.resolveSibling(templates.getFileName() + "-outside");
        Files.createDirectories(outside);
        Files.writeString(outside.resolve("leak.txt.ftl"), "leaked");

        Problem problem = problemOf(() -> renderer.render("../" + outside.getFileName() + "/leak", Map.of()));

        assertThat(problem.field()).isEqualTo("template");
        assertThat(problem.message()).contains("unknown template");
    }

    @Test
    void falls_back_to_the_templates_inside_the_jar() {
        assertThat(renderer.exists("report")).isTrue();

        TemplateRenderer.Rendered r = renderer.render("report",
                Map.of("file", Map.of("name", "q2.pdf", "baseName", "q2", "size", 2048)));

        assertThat(r.html()).contains("<b>q2.pdf</b>");
        assertThat(r.text()).contains("the report q2.pdf (2 KB) is attached.");
    }

    @Test
    void falls_back_to_the_jar_when_the_templates_folder_does_not_exist() {
        TemplateRenderer noFolder = new TemplateRenderer(templates.resolve("missing"));

        assertThat(noFolder.exists("welcome")).isTrue();
    }

    @Test
    void prefers_a_folder_template_over_the_jar_template_of_the_same_name() throws IOException {
        write("report.html.ftlh", "<p>Our own report mail for ${file.name}</p>");
        write("report.txt.ftl", "Our own text for ${file.name}");

        TemplateRenderer.Rendered r = renderer.render("report", Map.of("file", Map.of("name", "q2.pdf", "size", 1)));

        assertThat(r.html()).isEqualTo("<p>Our own report mail for q2.pdf</p>");
        assertThat(r.text()).isEqualTo("Our own text for q2.pdf");
    }

    @Test
    void blocks_the_new_builtin_so_a_template_cannot_run_commands() throws IOException {
        Path marker = templates.resolve("pwned");
        write("evil.html.ftlh", "<#assign ex = \"freemarker.template.utility.Execute\"?new()>${ex(\"touch "
                + marker + "\")}");

        Problem problem = problemOf(() -> renderer.render("evil", Map.of()));

        assertThat(problem.field()).isEqualTo("data");
        assertThat(problem.message()).contains("freemarker.template.utility.Execute").contains("not allowed");
        assertThat(marker).doesNotExist();
    }

    @Test
    void blocks_the_new_builtin_in_inline_templates() {
        Problem problem = problemOf(() -> renderer.renderInline("subject",
                "${\"freemarker.template.utility.ObjectConstructor\"?new()(\"java.io.File\", \"/\")}", Map.of()));

        assertThat(problem.field()).isEqualTo("data");
        assertThat(problem.message()).contains("not allowed");
    }

    @Test
    void blocks_the_api_builtin() throws IOException {
        write("api.txt.ftl", "${name?api.getClass().getName()}");

        Problem problem = problemOf(() -> renderer.render("api", Map.of("name", "x")));

        assertThat(problem.field()).isEqualTo("data");
        assertThat(problem.message()).contains("api");
    }

    @Test
    void renders_an_inline_template_with_file_data() {
        String subject = renderer.renderInline("subject", "Invoice ${file.baseName}",
                Map.of("file", Map.of("name", "2024-06.pdf", "baseName", "2024-06")));

        assertThat(subject).isEqualTo("Invoice 2024-06");
    }

    @Test
    void reports_a_missing_value_in_an_inline_template() {
        Problem problem = problemOf(() -> renderer.renderInline("subject", "Invoice ${file.baseName}",
                Map.of("file", Map.of("name", "a.pdf"))));

        assertThat(problem.field()).isEqualTo("data");
        assertThat(problem.message()).contains("needs a value for 'file.baseName'");
    }

    @Test
    void reports_a_broken_inline_template_on_its_field() {
        Problem problem = problemOf(() -> renderer.renderInline("subject", "Invoice ${file.baseName", Map.of()));

        assertThat(problem.field()).isEqualTo("subject");
        assertThat(problem.message()).contains("is not a valid template");
    }

    @Test
    void a_template_overridden_in_the_folder_is_taken_whole_from_the_folder() throws IOException {
        // the jar has report.html.ftlh and report.txt.ftl; overriding only the HTML must not pair it with the jar's text
        write("report.html.ftlh", "<p>Our own report ${file.name}</p>");

        TemplateRenderer.Rendered rendered = renderer.render("report", Map.of("file", Map.of("name", "q3.pdf")));

        assertThat(rendered.html()).isEqualTo("<p>Our own report q3.pdf</p>");
        assertThat(rendered.text()).isEqualTo("Our own report q3.pdf\n");
    }
}
