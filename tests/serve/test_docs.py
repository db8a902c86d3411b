import doctest

from pconv_cli.serve import docs


def test_the_docstring_examples_run():
    assert doctest.testmod(docs, raise_on_error=False).failed == 0


def test_the_page_escapes_what_the_schema_says():
    schema = {"info": {"title": "<b>"}, "paths": {"/x": {"get": {"summary": "<script>alert(1)</script>"}}}}
    page = docs.docs_page(schema, "http://h/")
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>" not in page


def test_a_choice_field_lists_its_choices_and_default():
    field = docs.FormField("texture", "How fine the fill is.", choices=("a", "b"), default="a")
    spec = docs.inpaint_openapi((field,), ("image/png",))
    body = spec["openapi_extra"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["properties"]["texture"] == {
        "type": "string", "description": "How fine the fill is.", "enum": ["a", "b"], "default": "a"
    }  # fmt: skip
    assert body["required"] == [] and "image/png" in spec["responses"][200]["content"]
