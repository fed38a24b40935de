"""Emulator: Converse request validation (botocore's shapes, then Bedrock's own rules)."""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from typing import Any

from botocore.loaders import create_loader
from botocore.model import ServiceModel, StructureShape
from botocore.validate import ParamValidator, ValidationErrors

from gateway.emulator.errors import validation_error

START_WITH_USER = (
    "A conversation must start with a user message. "
    "Try again with a conversation that starts with a user message."
)
ALTERNATE = (
    "A conversation must alternate between user and assistant roles. "
    "Make sure the conversation alternates between user and assistant roles and try again."
)
BLANK_TEXT = (
    "The text field in the ContentBlock object at {path} is blank. "
    "Add text to the text field, and try again."
)
BLANK_SYSTEM = (
    "The text field in the SystemContentBlock object at {path} is blank. "
    "Add text to the text field, and try again."
)
EMPTY_CONTENT = (
    "The content field in the Message object at {path} is empty. "
    "Add a ContentBlock object to the content field and try again."
)
TOOLCONFIG_REQUIRED = (
    "The toolConfig field must be defined when using toolUse and toolResult content blocks."
)
TOO_MANY_RESULTS = (
    "The number of toolResult blocks at {path}.content exceeds the number of toolUse "
    "blocks of previous turn."
)
IMAGE_ROLE = (
    "The image field in the ContentBlock object at {path} is not allowed in an assistant "
    "message. Images are supported only in user messages."
)
IMAGE_FORMATS = ("png", "jpeg", "gif", "webp")
ROLES = ("user", "assistant")
_SOFT = frozenset({"invalid length", "invalid range"})
_INDEX = re.compile(r"\[(\d+)\]")


def _path(name: str) -> str:
    return _INDEX.sub(r".\1", name.lstrip("."))


def _constraint(path: str, value: Any, rule: str) -> str:
    return f"Value '{value}' at '{path}' failed to satisfy constraint: Member must {rule}"


def _raise_constraints(messages: list[str]) -> None:
    count = len(messages)
    noun = "error" if count == 1 else "errors"
    raise validation_error(f"{count} validation {noun} detected: " + "; ".join(messages))


def _format_botocore(error: tuple[str, str, dict[str, Any]]) -> str:
    kind, name, details = error
    path = _path(name)
    if kind == "missing required field":
        where = f"{path}.{details['required_name']}".lstrip(".")
        return f"Value null at '{where}' failed to satisfy constraint: Member must not be null"
    if kind == "invalid length":
        return _constraint(
            path, details["param"], f"have length greater than or equal to {details['min_allowed']}"
        )
    if kind == "invalid range":
        return _constraint(
            path, details["param"], f"have value greater than or equal to {details['min_allowed']}"
        )
    report = ValidationErrors()
    report.report(name, kind, **details)
    return str(report.generate_report())


class ConverseValidator:
    """Validates Converse and ConverseStream bodies; build once per app."""

    def __init__(self) -> None:
        loader = create_loader()
        model = ServiceModel(loader.load_service_model("bedrock-runtime", "service-2"))
        self._shapes: dict[str, StructureShape] = {}
        for operation, name in (("converse", "Converse"), ("converse-stream", "ConverseStream")):
            shape = model.operation_model(name).input_shape
            assert shape is not None
            self._shapes[operation] = shape
        self._validator = ParamValidator()

    def validate(self, operation: str, model_id: str, body: dict[str, Any]) -> None:
        """Raise a ValidationException EmulatorError when the body is not acceptable."""
        params = dict(body)
        params["modelId"] = model_id
        report = self._validator.validate(params, self._shapes[operation])
        errors: list[tuple[str, str, dict[str, Any]]] = list(report._errors)
        hard = [error for error in errors if error[0] not in _SOFT]
        if hard:
            _raise_constraints([_format_botocore(error) for error in hard])
        check_bedrock_rules(body, model_id)
        if errors:
            _raise_constraints([_format_botocore(error) for error in errors])


def check_bedrock_rules(body: dict[str, Any], model_id: str) -> None:
    """Bedrock's service-side rules, in the order it reports them."""
    messages: list[dict[str, Any]] = body.get("messages") or []
    if not messages and ":prompt/" not in model_id:
        raise validation_error(START_WITH_USER)
    _check_roles(messages)
    _check_system(body.get("system") or [])
    _check_inference_config(body.get("inferenceConfig") or {})
    _check_tools(messages, body.get("toolConfig"))
    _check_guardrail(body.get("guardrailConfig"))


def _check_roles(messages: list[dict[str, Any]]) -> None:
    for index, message in enumerate(messages):
        role = message["role"]
        if role not in ROLES:
            _raise_constraints(
                [
                    _constraint(
                        f"messages.{index}.role",
                        role,
                        "satisfy enum value set: [user, assistant]",
                    )
                ]
            )
        if not message["content"]:
            raise validation_error(EMPTY_CONTENT.format(path=f"messages.{index}"))
    if messages and messages[0]["role"] != "user":
        raise validation_error(START_WITH_USER)
    for previous, current in itertools.pairwise(messages):
        if previous["role"] == current["role"]:
            raise validation_error(ALTERNATE)
    for index, message in enumerate(messages):
        for position, block in enumerate(message["content"]):
            _check_block(block, f"messages.{index}.content.{position}", message["role"])


def _check_block(block: dict[str, Any], path: str, role: str) -> None:
    text = block.get("text")
    if text is not None and not text.strip():
        raise validation_error(BLANK_TEXT.format(path=path))
    image = block.get("image")
    if image is not None:
        _check_image(image, path, role)


def _check_image(image: dict[str, Any], path: str, role: str) -> None:
    if role != "user":
        raise validation_error(IMAGE_ROLE.format(path=path))
    fmt = image.get("format")
    if fmt not in IMAGE_FORMATS:
        _raise_constraints(
            [
                _constraint(
                    f"{path}.image.format", fmt, "satisfy enum value set: [png, jpeg, gif, webp]"
                )
            ]
        )
    data = (image.get("source") or {}).get("bytes")
    if data is not None:
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise validation_error(
                f"Invalid base64 data at {path}.image.source.bytes: "
                "blobs must be base64-encoded strings."
            ) from None


def _check_system(system: list[dict[str, Any]]) -> None:
    for index, block in enumerate(system):
        text = block.get("text")
        if text is not None and not text.strip():
            raise validation_error(BLANK_SYSTEM.format(path=f"system.{index}"))


def _check_inference_config(config: dict[str, Any]) -> None:
    problems = []
    for name in ("temperature", "topP"):
        value = config.get(name)
        if value is not None and not 0 <= value <= 1:
            bound = "less than or equal to 1" if value > 1 else "greater than or equal to 0"
            problems.append(_constraint(f"inferenceConfig.{name}", value, f"have value {bound}"))
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and max_tokens < 1:
        problems.append(
            _constraint(
                "inferenceConfig.maxTokens", max_tokens, "have value greater than or equal to 1"
            )
        )
    if problems:
        _raise_constraints(problems)


def _check_tools(messages: list[dict[str, Any]], tool_config: Any) -> None:
    previous_uses = 0
    for index, message in enumerate(messages):
        uses = sum(1 for block in message["content"] if "toolUse" in block)
        results = sum(1 for block in message["content"] if "toolResult" in block)
        if (uses or results) and not tool_config:
            raise validation_error(TOOLCONFIG_REQUIRED)
        if message["role"] == "user" and results > previous_uses:
            raise validation_error(TOO_MANY_RESULTS.format(path=f"messages.{index}"))
        previous_uses = uses if message["role"] == "assistant" else 0


def _check_guardrail(config: dict[str, Any] | None) -> None:
    if config is None:
        return
    missing = [
        f"Value null at 'guardrailConfig.{name}' failed to satisfy constraint: "
        "Member must not be null"
        for name in ("guardrailIdentifier", "guardrailVersion")
        if not config.get(name)
    ]
    if missing:
        _raise_constraints(missing)
