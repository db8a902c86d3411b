"""`pconv serve`'s description of itself: the OpenAPI parts FastAPI cannot infer, the /docs page, the icon.

``POST /api/inpaint`` reads its multipart form by hand (to bound uploads before parsing), so its
request body and answers are described here from the same field table the parser checks
(``app.FORM``). The /docs page is rendered on the server from the schema: FastAPI's own pages load
Swagger UI from a CDN, and this server must work offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

# The page's icon: a brush stroke over a hole, small enough to keep as text.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#2f6fde"/>'
    '<circle cx="16" cy="16" r="8" fill="#fff"/>'
    '<path d="M5 26 L26 5" stroke="#ff1e5a" stroke-width="5" stroke-linecap="round"/></svg>'
)


@dataclass(frozen=True)
class FormField:
    """One field of ``POST /api/inpaint``'s form, as parsed (``app``) and as described here.

    Example:
        >>> FormField("format", "The answer's format.", choices=("png", "jpg"), default="png").schema()
        {'type': 'string', 'description': "The answer's format.", 'enum': ['png', 'jpg'], 'default': 'png'}
    """

    name: str
    help: str
    file: bool = False
    choices: tuple[str, ...] = ()
    default: str = ""
    required: bool = False

    def schema(self) -> dict:
        """The field's JSON schema within the multipart body."""
        out: dict = {"type": "string", "description": self.help}
        if self.file:
            out["format"] = "binary"
        if self.choices:
            out["enum"] = list(self.choices)
        if self.default:
            out["default"] = self.default
        return out


ERROR = {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}
INPAINT_ERRORS = {
    400: "A missing, empty or unknown field, a file sent as text, an unknown format or strategy.",
    408: "The upload took too long to arrive.",
    411: "No Content-Length header.",
    413: "Over the server's upload size (--max-upload-mb) or pixel count (--max-pixels).",
    415: "Not a multipart/form-data body.",
    422: "An unreadable image, a mask of another size, or a mask covering the whole image.",
    500: "The server's own fault (the model ran out of memory, say).",
    503: "The queue is full (--queue); try again after Retry-After seconds.",
}
HEALTH = {  # GET /api/health's answer: name → (JSON type, meaning)
    "status": ("string", "ok"),
    "model": ("string", "the weights served"),
    "runtime": ("string", "torch or onnx"),
    "device": ("string", "where the model runs"),
    "scale": ("integer", "the network's working size in pixels"),
    "max_upload_bytes": ("integer", "the largest request body (413 beyond)"),
    "max_pixels": ("integer", "the most pixels an image may have (413 beyond)"),
    "queued": ("integer", "requests waiting or running now"),
    "queue_size": ("integer", "requests waiting or running at most (503 beyond)"),
    "served": ("integer", "requests answered with an image since the start"),
}


def health_responses() -> dict:
    """``responses`` of ``GET /api/health``: its JSON object, field by field."""
    properties = {name: {"type": kind, "description": text} for name, (kind, text) in HEALTH.items()}
    schema = {"type": "object", "properties": properties}
    return {
        200: {
            "description": "The model, its runtime and the limits.",
            "content": {"application/json": {"schema": schema}},
        }
    }


def inpaint_openapi(form: tuple[FormField, ...], media_types: tuple[str, ...]) -> dict:
    """``responses`` and ``openapi_extra`` of ``POST /api/inpaint``: the multipart form and each answer.

    Example:
        >>> spec = inpaint_openapi((FormField("image", "The photo.", file=True, required=True),), ("image/png",))
        >>> spec["openapi_extra"]["requestBody"]["content"]["multipart/form-data"]["schema"]["required"]
        ['image']
    """
    body = {
        "type": "object",
        "properties": {field.name: field.schema() for field in form},
        "required": [field.name for field in form if field.required],
    }
    image = {"schema": {"type": "string", "format": "binary"}}
    headers = {
        "X-Pconv-Strategy": {"description": "The strategy the image was filled with.", "schema": {"type": "string"}},
        "X-Pconv-Seconds": {
            "description": "Seconds of this request's decoding, fill and encoding: not its upload or queue wait.",
            "schema": {"type": "string"},
        },
    }
    responses: dict = {
        200: {"description": "The filled image.", "content": dict.fromkeys(media_types, image), "headers": headers}
    }
    responses |= {code: {"description": text, "content": ERROR} for code, text in INPAINT_ERRORS.items()}
    extra = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": body}}}}
    return {"responses": responses, "openapi_extra": extra}


STYLE = """
:root { color-scheme: light dark; font: 15px/1.45 system-ui, sans-serif; }
body { max-width: 60rem; margin: 0 auto; padding: 1rem; }
section { border: 1px solid #8884; border-radius: 8px; padding: .2rem 1rem .6rem; margin: 1rem 0; }
h2 code { font-size: 1.05rem; } .method { font-weight: 700; color: #2f6fde; }
table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .2rem .5rem;
border-bottom: 1px solid #8883; vertical-align: top; }
pre { background: #8882; padding: .6rem; border-radius: 6px; overflow-x: auto; }
"""


def _fields_table(operation: dict) -> str:
    """The multipart fields of an operation as an HTML table ('' for an operation with no body)."""
    content = operation.get("requestBody", {}).get("content", {})
    schema = next(iter(content.values()), {}).get("schema", {})
    if not schema.get("properties"):
        return ""
    rows = []
    for name, field in schema["properties"].items():
        kind = "file" if field.get("format") == "binary" else "string"
        default = field.get("default")
        need = "required" if name in schema.get("required", ()) else f"default {default}" if default else "optional"
        values = f"<br>one of: {escape(', '.join(field['enum']))}" if "enum" in field else ""
        rows.append(
            f"<tr><td><code>{escape(name)}</code></td><td>{kind}, {escape(need)}</td>"
            f"<td>{escape(field.get('description', ''))}{values}</td></tr>"
        )
    return f"<h3>Form fields (multipart/form-data)</h3><table>{''.join(rows)}</table>"


def _responses_table(operation: dict) -> str:
    """Each answer's status, meaning and media types, with the fields of a JSON object answered."""
    rows = []
    for code, answer in operation.get("responses", {}).items():
        content = answer.get("content", {})
        properties = content.get("application/json", {}).get("schema", {}).get("properties", {})
        fields = "".join(
            f"<br><code>{escape(name)}</code> ({escape(field.get('type', ''))}): {escape(field.get('description', ''))}"
            for name, field in properties.items()
            if code.startswith("2")  # an error's one field, "error", is said once in the page's intro
        )
        rows.append(
            f"<tr><td>{escape(code)}</td><td>{escape(answer.get('description', ''))}{fields}</td>"
            f"<td>{escape(', '.join(content))}</td></tr>"
        )
    return f"<h3>Answers</h3><table>{''.join(rows)}</table>"


def _examples(base_url: str) -> str:
    inpaint = f"curl -F image=@photo.jpg -F mask=@hole.png {base_url}api/inpaint -o filled.png"
    return (
        "<h2>From a shell</h2><pre>"
        f"{escape(inpaint)}\ncurl {escape(base_url)}api/health\ncurl {escape(base_url)}openapi.json</pre>"
    )


def docs_page(schema: dict, base_url: str) -> str:
    """The /docs page: every operation of ``schema`` with its fields and answers, and curl examples.

    Self-contained (its only links point back at this server), so that it works offline.

    Example:
        >>> page = docs_page({"info": {"title": "t"}, "paths": {"/x": {"get": {"summary": "X"}}}}, "http://h/")
        >>> '<span class="method">GET</span> /x</code> X' in page
        True
    """
    info = schema.get("info", {})
    sections = []
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            sections.append(
                f'<section><h2><code><span class="method">{escape(method.upper())}</span> {escape(path)}</code>'
                f" {escape(operation.get('summary', ''))}</h2>"
                f"<p>{escape(operation.get('description', ''))}</p>"
                f"{_fields_table(operation)}{_responses_table(operation) if operation.get('responses') else ''}"
                "</section>"
            )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{escape(info.get("title", ""))} API</title><link rel="icon" href="/favicon.ico">'
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{escape(info.get('title', ''))} {escape(info.get('version', ''))} · HTTP API</h1>"
        f'<p>{escape(info.get("description", ""))} Errors answer JSON <code>{{"error": "one line"}}</code>. '
        "The machine-readable schema: "
        '<a href="/openapi.json">/openapi.json</a> (OpenAPI 3). The painting page: <a href="/">/</a>.</p>'
        f"{_examples(base_url)}{''.join(sections)}</body></html>"
    )
