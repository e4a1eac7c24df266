"""An XML Schema (XSD 1.0) per event type, from its JSON Schema and the XML renderer's rules.

:func:`django_webhooks.payloads.render_xml` writes the JSON tree under a root ``<event>``: an
object's keys as child elements (``<entry key="…">`` for a key that is no XML name), a list as
repeated ``<item>`` children of an element marked ``type="list"``, an empty object marked
``type="object"``, a null as an empty element marked ``nil="true"``, ``true``/``false``, and
every other scalar as its JSON text. So each JSON Schema construct has its XSD counterpart:

* an object with properties: ``xs:all`` (any order: PostgreSQL's jsonb does not keep the
  order of keys), required children where JSON requires them and the value cannot be null;
* an array: ``item`` elements, any number; a string, number, boolean: the XSD built-in with
  the same lexical space (``xs:dateTime`` for ``date-time``, ``xs:decimal`` for a decimal
  string) and the facets that translate (enumerations, lengths, bounds, simple patterns);
* a nullable value: its type or the empty string, and an optional ``nil`` attribute;
* anything JSON Schema leaves open: any content, not checked.

XSD 1.0 cannot tie ``nil="true"`` to an empty element, and a nullable object's children are
optional for the same reason; everything else is as strict as the JSON Schema.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from .mapping import DEFS, resolve

XS = "http://www.w3.org/2001/XMLSchema"
ANY_VALUE = "AnyValue"
EMPTY = "Empty"
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")  # payloads._XML_NAME: what render_xml keeps
_NCNAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_DECIMAL_PATTERN = re.compile(r"^\^-\?\\d\{0,(\d+)\}(?:\(\?:\\\.\\d\{0,(\d+)\}\)\?)?\$$")
_FORMATS = {"date-time": "xs:dateTime", "date": "xs:date", "decimal": "xs:decimal"}
_MAX_DEPTH = 16


def xml_schema(schema: dict[str, Any]) -> str:
    """The XSD (text) that every XML rendering of a body valid against ``schema`` satisfies."""
    writer = _Writer(schema.get("$defs", {}))
    root = _normalise(schema, writer.defs)
    writer.element(writer.document, "event", root, required=True)
    ElementTree.indent(writer.document)
    return ElementTree.tostring(writer.document, encoding="unicode", xml_declaration=True) + "\n"


@dataclass
class _Kind:
    """A JSON Schema reduced to what XML can tell apart."""

    kind: str  # object, array, string, integer, number, boolean, null, any
    nullable: bool = False
    facets: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    items: Any = None
    ref: str | None = None


def _normalise(schema: Any, defs: dict[str, Any], depth: int = 0) -> _Kind:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return _Kind("any")
    if "$ref" in schema:
        ref = schema["$ref"]
        target = _normalise(resolve(ref, defs) or {}, defs, depth + 1)
        name = ref[len(DEFS) :]
        if target.kind == "object" and ref.startswith(DEFS) and "/" not in name:
            target.ref = name  # a component of its own: a named XSD type
        return target
    if "const" in schema:
        return _enumerated([schema["const"]])
    if "enum" in schema:
        return _enumerated(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _union([_normalise(branch, defs, depth + 1) for branch in schema[key]])
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            if isinstance(part, dict):
                merged.update(part)
        merged.update({key: value for key, value in schema.items() if key != "allOf"})
        return _normalise(merged, defs, depth + 1)
    kinds = schema.get("type")
    if kinds is None:
        kinds = ["object"] if "properties" in schema else []
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    nullable = "null" in kinds
    kinds = [kind for kind in kinds if kind != "null"]
    if not kinds:
        return _Kind("null") if nullable else _Kind("any")
    if len(kinds) > 1:
        return _Kind("any")
    kind = kinds[0]
    if kind == "object":
        closed = schema.get("additionalProperties") is False or (
            "additionalProperties" not in schema and bool(schema.get("properties"))
        )
        if not closed or not schema.get("properties"):
            return _Kind("any")
        return _Kind(
            "object",
            nullable,
            properties=schema["properties"],
            required=frozenset(schema.get("required", [])),
        )
    if kind == "array":
        return _Kind("array", nullable, items=schema.get("items", {}))
    facets = {
        key: schema[key]
        for key in (
            "format",
            "pattern",
            "minLength",
            "maxLength",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
        )
        if key in schema
    }
    return _Kind(kind, nullable, facets=facets)


def _enumerated(values: list[Any]) -> _Kind:
    present = [value for value in values if value is not None]
    if not present:
        return _Kind("null")
    if any(isinstance(value, dict | list) for value in present):
        return _Kind("any", None in values)
    return _Kind("string", None in values, facets={"enum": [_text(v) for v in present]})


def _text(value: Any) -> str:
    """A scalar as render_xml writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _union(kinds: list[_Kind]) -> _Kind:
    nullable = any(kind.kind == "null" or kind.nullable for kind in kinds)
    present = [kind for kind in kinds if kind.kind != "null"]
    if not present:
        return _Kind("null")
    if len(present) == 1:
        present[0].nullable = nullable
        return present[0]
    if any(kind.kind == "any" for kind in present) or len({kind.kind for kind in present}) > 1:
        return _Kind("any", nullable)
    if present[0].kind in ("object", "array"):
        return _Kind("any", nullable)
    # One scalar kind, several facet sets (an email, or ""): keep what they share.
    facets = dict(present[0].facets)
    for other in present[1:]:
        for key in list(facets):
            if key == "enum" and "enum" in other.facets:
                facets["enum"] = list(dict.fromkeys(facets["enum"] + other.facets["enum"]))
            elif key in ("maxLength",) and key in other.facets:
                facets[key] = max(facets[key], other.facets[key])
            elif key in ("minLength",) and key in other.facets:
                facets[key] = min(facets[key], other.facets[key])
            elif other.facets.get(key) != facets[key]:
                del facets[key]
    return _Kind(present[0].kind, nullable, facets=facets)


class _Writer:
    def __init__(self, defs: dict[str, Any]) -> None:
        ElementTree.register_namespace("xs", XS)
        self.defs = defs
        self.document = ElementTree.Element(_xs("schema"), {"elementFormDefault": "unqualified"})
        self._named: set[str] = set()
        self._any_value()

    def element(
        self, parent: ElementTree.Element, name: str, kind: _Kind, *, required: bool
    ) -> ElementTree.Element:
        attributes = {"name": name}
        if not required:
            attributes["minOccurs"] = "0"
        element = ElementTree.SubElement(parent, _xs("element"), attributes)
        self._type_of(element, kind)
        return element

    def _type_of(self, element: ElementTree.Element, kind: _Kind) -> None:
        """Give ``element`` the type of ``kind``: a ``type`` attribute or an inner type."""
        if kind.kind == "any":
            element.set("type", ANY_VALUE)
        elif kind.kind == "null":
            complex_type = ElementTree.SubElement(element, _xs("complexType"))
            _nil(complex_type, required=True)
        elif kind.kind == "object":
            if kind.ref is not None:
                element.set("type", self._named_object(kind))
            else:
                self._object(ElementTree.SubElement(element, _xs("complexType")), kind)
        elif kind.kind == "array":
            complex_type = ElementTree.SubElement(element, _xs("complexType"))
            sequence = ElementTree.SubElement(complex_type, _xs("sequence"))
            item = ElementTree.SubElement(
                sequence,
                _xs("element"),
                {"name": "item", "minOccurs": "0", "maxOccurs": "unbounded"},
            )
            self._type_of(item, _normalise(kind.items, self.defs))
            ElementTree.SubElement(
                complex_type,
                _xs("attribute"),
                {"name": "type", "type": "xs:string", "fixed": "list"}
                | ({} if kind.nullable else {"use": "required"}),
            )
            if kind.nullable:
                _nil(complex_type)
        elif kind.nullable:
            complex_type = ElementTree.SubElement(element, _xs("complexType"))
            content = ElementTree.SubElement(complex_type, _xs("simpleContent"))
            extension = ElementTree.SubElement(
                content, _xs("extension"), {"base": self._simple(kind, or_empty=True)}
            )
            _nil(extension)
        else:
            element.set("type", self._simple(kind))

    def _named_object(self, kind: _Kind) -> str:
        name = _ncname(kind.ref or "Object") + ("-or-nil" if kind.nullable else "")
        if name not in self._named:
            self._named.add(name)
            complex_type = ElementTree.SubElement(self.document, _xs("complexType"), {"name": name})
            self._object(complex_type, kind)
        return name

    def _object(self, complex_type: ElementTree.Element, kind: _Kind) -> None:
        names = list(kind.properties)
        if all(_XML_NAME.fullmatch(n) and not n.lower().startswith("xml") for n in names):
            group = ElementTree.SubElement(complex_type, _xs("all"))
            for name in names:
                child = _normalise(kind.properties[name], self.defs)
                self.element(
                    group, name, child, required=name in kind.required and not kind.nullable
                )
        else:
            # Some keys become <entry key="…">: any of the children, in any number.
            group = ElementTree.SubElement(
                complex_type, _xs("choice"), {"minOccurs": "0", "maxOccurs": "unbounded"}
            )
            for name in names:
                if _XML_NAME.fullmatch(name) and not name.lower().startswith("xml"):
                    self.element(
                        group, name, _normalise(kind.properties[name], self.defs), required=True
                    )
            entry = ElementTree.SubElement(group, _xs("element"), {"name": "entry"})
            entry_type = ElementTree.SubElement(entry, _xs("complexType"), {"mixed": "true"})
            _any_content(entry_type)
        ElementTree.SubElement(
            complex_type, _xs("attribute"), {"name": "type", "type": "xs:string", "fixed": "object"}
        )
        if kind.nullable:
            _nil(complex_type)

    def _simple(self, kind: _Kind, *, or_empty: bool = False) -> str:
        """The name of a simple type for ``kind`` (a built-in, or one declared here)."""
        base, facets = _base_and_facets(kind)
        name = base
        if facets:
            restriction = ElementTree.Element(_xs("restriction"), {"base": base})
            for facet, value in facets:
                ElementTree.SubElement(restriction, _xs(facet), {"value": value})
            name = self._declare_simple(restriction)
        if or_empty and (base != "xs:string" or facets):
            union = ElementTree.Element(_xs("union"), {"memberTypes": f"{name} {EMPTY}"})
            name = self._declare_simple(union)
        return name

    def _declare_simple(self, body: ElementTree.Element) -> str:
        digest = hashlib.sha256(ElementTree.tostring(body)).hexdigest()[:12]
        name = f"Value-{digest}"
        if name not in self._named:
            self._named.add(name)
            simple_type = ElementTree.SubElement(self.document, _xs("simpleType"), {"name": name})
            simple_type.append(body)
        return name

    def _any_value(self) -> None:
        complex_type = ElementTree.SubElement(
            self.document, _xs("complexType"), {"name": ANY_VALUE, "mixed": "true"}
        )
        _any_content(complex_type)
        simple_type = ElementTree.SubElement(self.document, _xs("simpleType"), {"name": EMPTY})
        restriction = ElementTree.SubElement(simple_type, _xs("restriction"), {"base": "xs:string"})
        ElementTree.SubElement(restriction, _xs("length"), {"value": "0"})


def _base_and_facets(kind: _Kind) -> tuple[str, list[tuple[str, str]]]:
    facets = kind.facets
    found: list[tuple[str, str]] = []
    if "enum" in facets:
        return "xs:string", [("enumeration", value) for value in facets["enum"]]
    if kind.kind == "boolean":
        return "xs:boolean", []
    if kind.kind in ("integer", "number"):
        base = "xs:integer" if kind.kind == "integer" else "xs:double"
        for key, facet in (
            ("minimum", "minInclusive"),
            ("maximum", "maxInclusive"),
            ("exclusiveMinimum", "minExclusive"),
            ("exclusiveMaximum", "maxExclusive"),
        ):
            if key in facets and not isinstance(facets[key], bool):
                found.append((facet, _text(facets[key])))
        return base, found
    base = _FORMATS.get(facets.get("format", ""), "xs:string")
    if base == "xs:decimal":
        digits = _DECIMAL_PATTERN.match(facets.get("pattern", ""))
        if digits:
            places = int(digits.group(2) or 0)
            found += [("totalDigits", str(int(digits.group(1)) + places))]
            found += [("fractionDigits", str(places))]
        return base, found
    if base == "xs:string":
        for key, facet in (("minLength", "minLength"), ("maxLength", "maxLength")):
            if key in facets:
                found.append((facet, str(facets[key])))
    pattern = _xsd_pattern(facets.get("pattern"))
    if pattern is not None:
        found.append(("pattern", pattern))
    return base, found


def _xsd_pattern(pattern: Any) -> str | None:
    """An anchored ECMA pattern as XSD writes it (implicitly anchored); None if unsure."""
    if not isinstance(pattern, str) or not (pattern.startswith("^") and pattern.endswith("$")):
        return None
    inner = pattern[1:-1]
    unsupported = ("(?", "\\b", "\\B", "*?", "+?", "??", "}?", "\\u", "\\x", "$")
    if any(token in inner for token in unsupported) or re.search(r"(?<!\[)\^", inner):
        return None
    return inner


def _nil(parent: ElementTree.Element, *, required: bool = False) -> None:
    attributes = {"name": "nil", "type": "xs:string", "fixed": "true"}
    if required:
        attributes["use"] = "required"
    ElementTree.SubElement(parent, _xs("attribute"), attributes)


def _any_content(complex_type: ElementTree.Element) -> None:
    # Skipped, not lax: a key such as "event" must not be checked against the root element.
    sequence = ElementTree.SubElement(complex_type, _xs("sequence"))
    ElementTree.SubElement(
        sequence,
        _xs("any"),
        {"minOccurs": "0", "maxOccurs": "unbounded", "processContents": "skip"},
    )
    ElementTree.SubElement(complex_type, _xs("anyAttribute"), {"processContents": "skip"})


def _ncname(name: str) -> str:
    cleaned = _NCNAME_UNSAFE.sub("-", name)
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else f"T-{cleaned}"


def _xs(tag: str) -> str:
    return f"{{{XS}}}{tag}"
