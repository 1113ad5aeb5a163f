"""The OpenAPI schema documents the error answers every operation can give, in the one error shape.

A drf-spectacular post-processing hook (settings.SPECTACULAR_SETTINGS): each operation gets the statuses the
API's shared machinery can answer whatever the endpoint (bad input, no or wrong credentials, a role or an
object it may not see, too many requests), each with the `Error` body from config.api_errors. An operation
that documents a status itself keeps its own description.
"""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "What went wrong, for programs: e.g. `invalid`."},
                "message": {"type": "string", "description": "What went wrong, for people."},
                "fields": {
                    "type": "object",
                    "description": "Messages per input field, when the input was refused.",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}

# Every operation: input refused, credentials missing or wrong, not allowed, not found, too many requests.
COMMON = {
    "400": "The request was refused: a parameter or field is not valid (see `fields`).",
    "401": "No credentials, or they are wrong or expired.",
    "403": "The credentials do not allow this.",
    "404": "Not found (or not this caller's).",
    "429": "Too many requests: try again after the number of seconds in `Retry-After`.",
}
# Operations that take a body: one the server cannot read.
WITH_BODY = {"415": "The body is not in a format this operation accepts (send JSON)."}


def document_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: add the shared error answers to every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = COMMON | (WITH_BODY if "requestBody" in operation else {})
            for status, description in statuses.items():
                operation["responses"].setdefault(status, {"description": description, "content": reference})
    return result
