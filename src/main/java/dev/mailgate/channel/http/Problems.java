package dev.mailgate.channel.http;

import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.request.Problem;

/** Error answers in the RFC 9457 problem-details format ({@code application/problem+json}); never a stack trace. */
final class Problems {

    static final String CONTENT_TYPE = "application/problem+json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private Problems() {
    }

    static String of(int status, String type, String title, String detail) {
        return body(status, type, title, detail, List.of());
    }

    static String body(int status, String type, String title, String detail, List<Problem> errors) {
        ObjectNode problem = JSON.createObjectNode()
                .put("type", "urn:mailgate:problem:" + type)
                .put("title", title)
                .put("status", status)
                .put("detail", detail);
        if (!errors.isEmpty()) {
            ArrayNode list = problem.putArray("errors");
            errors.forEach(e -> list.addObject().put("field", e.field()).put("message", e.message()));
        }
        try {
            return JSON.writeValueAsString(problem);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
