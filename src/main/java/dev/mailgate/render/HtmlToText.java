package dev.mailgate.render;

import java.util.Set;

import org.jsoup.Jsoup;
import org.jsoup.nodes.Element;
import org.jsoup.nodes.Node;
import org.jsoup.nodes.TextNode;
import org.jsoup.select.NodeVisitor;

/** The plain-text alternative of an HTML body: paragraphs, line breaks, list items and link targets kept. */
final class HtmlToText {

    /** Elements that start on a new line. */
    private static final Set<String> BLOCKS = Set.of("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
            "ul", "ol", "blockquote", "pre", "section", "article", "header", "footer", "hr");
    /** Elements followed by an empty line, as paragraphs are in plain text. */
    private static final Set<String> PARAGRAPHS = Set.of("p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul",
            "ol", "blockquote", "pre");

    private HtmlToText() {
    }

    static String convert(String html) {
        StringBuilder out = new StringBuilder();
        Element body = Jsoup.parse(html).body();
        body.traverse(new NodeVisitor() {
            @Override
            public void head(Node node, int depth) {
                if (node instanceof TextNode text) {
                    out.append(text.text());
                } else if (node instanceof Element e) {
                    String tag = e.normalName();
                    if (tag.equals("br")) {
                        out.append('\n');
                    } else if (tag.equals("li")) {
                        newLine(out);
                        out.append("- ");
                    } else if (BLOCKS.contains(tag)) {
                        newLine(out);
                    }
                }
            }

            @Override
            public void tail(Node node, int depth) {
                if (node instanceof Element e) {
                    String tag = e.normalName();
                    if (tag.equals("a")) {
                        String href = e.attr("href");
                        if (!href.isEmpty() && !href.startsWith("#") && !href.startsWith("cid:")
                                && !href.equals(e.text())) {
                            out.append(" (").append(href).append(')');
                        }
                    } else if (PARAGRAPHS.contains(tag)) {
                        out.append("\n\n");
                    } else if (BLOCKS.contains(tag) || tag.equals("td")) {
                        out.append(tag.equals("td") ? "\t" : "\n");
                    }
                }
            }
        });
        return out.toString().replaceAll("[ \\t]+\\n", "\n").replaceAll("\\n{3,}", "\n\n").strip() + "\n";
    }

    private static void newLine(StringBuilder out) {
        if (out.length() > 0 && out.charAt(out.length() - 1) != '\n') {
            out.append('\n');
        }
    }
}
