"""The pass that makes pydantic's JSON schema structural, on small models with one feature each."""

from __future__ import annotations

import enum
from typing import Any, Literal

import pytest
from crdgen.structural import NotStructural, structural
from pydantic import ConfigDict, Field

from porch_operator.models import meta, schema


def generated(model: type[meta.Model]) -> dict[str, Any]:
    return structural(model.model_json_schema(by_alias=True))


class Colour(enum.StrEnum):
    """A colour."""

    RED = "red"
    BLUE = "blue"


class Inner(meta.Model):
    """Inner doc."""

    model_config = ConfigDict(json_schema_extra=schema.k8s(schema.CelRule("has(self.size)", message="inner")))

    size: int = Field(1, description="The size.")


class Outer(meta.Model):
    """Outer doc."""

    required_inner: Inner = Field(description="Required.")
    optional_inner: Inner | None = Field(
        None, description="Optional.", json_schema_extra=schema.k8s(schema.CelRule("true", message="field"))
    )
    colour: Colour = Colour.RED
    fixed: Literal["git"] = "git"
    labels: dict[str, str] | None = Field(None, max_length=3)
    free: dict[str, Any] | None = None
    anything: Any = None
    quantity: int | str | None = None
    items: list[Inner] | None = Field(None, max_length=2, json_schema_extra=schema.keyed_list("size"))
    title: str | None = Field(None, description="A property called title stays.")


def test_refs_are_inlined_and_the_referring_description_wins() -> None:
    properties = generated(Outer)["properties"]
    assert properties["requiredInner"]["description"] == "Required."
    assert properties["requiredInner"]["properties"]["size"] == {
        "description": "The size.",
        "type": "integer",
        "default": 1,
    }


def test_optional_fields_lose_the_null_branch_and_null_default() -> None:
    optional = generated(Outer)["properties"]["optionalInner"]
    assert optional["type"] == "object"
    assert "default" not in optional
    assert "nullable" not in optional


def test_cel_rules_of_the_model_and_of_the_field_are_both_kept() -> None:
    optional = generated(Outer)["properties"]["optionalInner"]
    assert [rule["message"] for rule in optional["x-kubernetes-validations"]] == ["inner", "field"]
    assert list(optional["x-kubernetes-validations"][0]) == ["rule", "message"]


def test_enums_literals_and_maps() -> None:
    properties = generated(Outer)["properties"]
    assert properties["colour"] == {
        "description": "A colour.",
        "type": "string",
        "enum": ["red", "blue"],
        "default": "red",
    }
    assert properties["fixed"] == {"type": "string", "enum": ["git"], "default": "git"}
    assert properties["labels"] == {
        "type": "object",
        "maxProperties": 3,
        "additionalProperties": {"type": "string"},
    }


def test_free_form_values_preserve_unknown_fields() -> None:
    properties = generated(Outer)["properties"]
    assert properties["free"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert properties["anything"] == {"x-kubernetes-preserve-unknown-fields": True}


def test_int_or_string() -> None:
    assert generated(Outer)["properties"]["quantity"] == {"x-kubernetes-int-or-string": True}


def test_keyed_lists_and_titles() -> None:
    result = generated(Outer)
    assert "title" not in result
    assert result["properties"]["items"]["x-kubernetes-list-type"] == "map"
    assert result["properties"]["items"]["x-kubernetes-list-map-keys"] == ["size"]
    assert "title" not in result["properties"]["items"]["items"]
    assert result["properties"]["title"]["description"] == "A property called title stays."


class Union(meta.Model):
    choice: Inner | Outer


def test_a_union_of_models_is_refused() -> None:
    with pytest.raises(NotStructural, match="choice"):
        generated(Union)
