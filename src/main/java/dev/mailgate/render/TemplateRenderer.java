package dev.mailgate.render;

import static dev.mailgate.text.Text.firstLine;

import java.io.IOException;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import freemarker.cache.ClassTemplateLoader;
import freemarker.cache.FileTemplateLoader;
import freemarker.cache.TemplateLoader;
import freemarker.core.InvalidReferenceException;
import freemarker.core.TemplateClassResolver;
import freemarker.template.Configuration;
import freemarker.template.Template;
import freemarker.template.TemplateException;
import freemarker.template.TemplateExceptionHandler;
import freemarker.template.TemplateNotFoundException;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.request.InvalidRequestException;

/**
 * Renders FreeMarker templates from the templates folder (falling back to the ones inside the jar).
 * A template {@code invoice} is a set of files:
 * <ul>
 * <li>{@code invoice.html.ftlh}: the HTML body; {@code .ftlh} turns on HTML auto-escaping, so values from
 * {@code data} cannot inject markup;</li>
 * <li>{@code invoice.txt.ftl}: the plain-text body; when it is missing, the text alternative is derived
 * from the HTML so that text-only clients still read the mail;</li>
 * <li>{@code invoice.subject.ftl}: optional, the subject when the request gives none.</li>
 * </ul>
 */
public final class TemplateRenderer {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,100}");

    /** What a template produced; any part may be {@code null}. */
    public record Rendered(String subject, String text, String html) {
    }

    /** The templates folder, when it exists. */
    private final Configuration folder;
    /** The templates built into the jar. */
    private final Configuration builtin;

    public TemplateRenderer(Path templatesDir) {
        Configuration fromFolder = null;
        if (Files.isDirectory(templatesDir)) {
            try {
                fromFolder = configuration(new FileTemplateLoader(templatesDir.toFile()));
            } catch (IOException e) {
                throw new IllegalStateException("templates folder " + templatesDir + " cannot be read", e);
            }
        }
        folder = fromFolder;
        builtin = configuration(new ClassTemplateLoader(TemplateRenderer.class, "/templates"));
    }

    private static Configuration configuration(TemplateLoader loader) {
        Configuration freemarker = new Configuration(Configuration.VERSION_2_3_34);
        freemarker.setTemplateLoader(loader);
        freemarker.setDefaultEncoding("UTF-8");
        freemarker.setRecognizeStandardFileExtensions(true);
        freemarker.setTemplateExceptionHandler(TemplateExceptionHandler.RETHROW_HANDLER);
        freemarker.setLogTemplateExceptions(false);
        freemarker.setWrapUncheckedExceptions(true);
        freemarker.setFallbackOnNullLoopVariable(false);
        // templates are data, not code: no Java class instantiation, no ?api
        freemarker.setNewBuiltinClassResolver(TemplateClassResolver.ALLOWS_NOTHING_RESOLVER);
        freemarker.setAPIBuiltinEnabled(false);
        return freemarker;
    }

    public boolean exists(String name) {
        return source(name) != null;
    }

    /**
     * Where template {@code name} comes from: a template is a set of files taken as a whole from one place, the
     * folder if it has the template's HTML or text body, else the jar. Overriding only {@code report.html.ftlh}
     * in the folder must not pair it with the jar's {@code report.txt.ftl}.
     */
    private Configuration source(String name) {
        if (!NAME.matcher(name).matches()) {
            return null;
        }
        for (Configuration place : folder == null ? List.of(builtin) : List.of(folder, builtin)) {
            if (find(place, name + ".html.ftlh") != null || find(place, name + ".txt.ftl") != null) {
                return place;
            }
        }
        return null;
    }

    /**
     * @throws InvalidRequestException naming the missing value when the data does not fit the template
     */
    public Rendered render(String name, Map<String, Object> data) {
        Configuration place = source(name);
        if (place == null) {
            throw new InvalidRequestException("template", "unknown template '" + name + "'");
        }
        String html = process(find(place, name + ".html.ftlh"), data, name);
        String text = process(find(place, name + ".txt.ftl"), data, name);
        String subject = process(find(place, name + ".subject.ftl"), data, name);
        if (text == null && html != null) {
            text = HtmlToText.convert(html);
        }
        return new Rendered(subject == null ? null : subject.strip(), text, html);
    }

    /** Renders a one-line template given inline, such as a route's subject {@code "Invoice ${file.baseName}"}. */
    public String renderInline(String field, String source, Map<String, Object> data) {
        try {
            Template template = new Template(field, source, builtin);
            return process(template, data, field);
        } catch (IOException e) {
            throw new InvalidRequestException(field, "is not a valid template: " + firstLine(e.getMessage()));
        }
    }

    private static Template find(Configuration place, String file) {
        try {
            return place.getTemplate(file);
        } catch (TemplateNotFoundException e) {
            return null;
        } catch (IOException e) {
            throw new ConfigurationException("template file " + file + " cannot be parsed: " + firstLine(e.getMessage())
                    + "; fix it in mailgate.templates.dir");
        }
    }

    private static String process(Template template, Map<String, Object> data, String name) {
        if (template == null) {
            return null;
        }
        StringWriter out = new StringWriter();
        try {
            template.process(data, out);
            return out.toString();
        } catch (InvalidReferenceException e) {
            throw new InvalidRequestException("data", "template '" + template.getName() + "' needs a value for '"
                    + e.getBlamedExpressionString() + "' (line " + e.getLineNumber() + "); add it to data");
        } catch (TemplateException e) {
            throw new InvalidRequestException("data", "template '" + template.getName() + "' failed at line "
                    + e.getLineNumber() + ": " + firstLine(e.getMessageWithoutStackTop()));
        } catch (IOException e) {
            throw new InvalidRequestException("template", "'" + name + "' could not be rendered ("
                    + e.getClass().getSimpleName() + ")");
        }
    }
}
