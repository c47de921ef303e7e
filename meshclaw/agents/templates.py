"""Agent templates: a named way to build an `AgentSpec` from a few settings, for "create from template".

Templates register through `register`, the same call the Playbooks issue will use for its own (inbox
triage, on-call digest, …), the way simonw/llm registers its built-in models through its plugin hook.
There is no module-level registry: `builtin_templates()` builds a fresh one each time it is asked, so
tests and processes never share one by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from meshclaw.agents.files import spec_error
from meshclaw.agents.spec import AgentSpec, ModelChoice
from meshclaw.errors import InvalidInputError, NotFoundError


@dataclass(frozen=True, kw_only=True)
class TemplateSetting:
    """One input the template asks for (the web form shows one field per setting)."""

    name: str
    label: str
    help: str = ""
    default: str = ""
    required: bool = False


TemplateBuilder = Callable[[str, Mapping[str, str]], AgentSpec]
"""Builds the spec from the agent's name and the settings as typed (strings; the builder converts)."""


@dataclass(frozen=True, kw_only=True)
class Template:
    name: str
    title: str
    description: str
    settings: tuple[TemplateSetting, ...]
    build: TemplateBuilder

    def spec(self, agent_name: str, values: Mapping[str, str]) -> AgentSpec:
        """The spec for these values: unknown settings and missing required ones are errors, and the
        spec records the template it came from."""
        known = {setting.name for setting in self.settings}
        unknown = sorted(set(values) - known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise InvalidInputError(
                f"settings.{unknown[0]}: template '{self.name}' has no such setting (it takes: {allowed})",
                field=f"settings.{unknown[0]}",
            )
        filled = {s.name: values.get(s.name, "").strip() or s.default for s in self.settings}
        for setting in self.settings:
            if setting.required and not filled[setting.name]:
                raise InvalidInputError(
                    f"settings.{setting.name}: template '{self.name}' needs '{setting.label}'",
                    field=f"settings.{setting.name}",
                )
        try:
            spec = self.build(agent_name, filled)
        except ValidationError as exc:
            raise spec_error(exc, source=f"template '{self.name}'") from None
        return spec.model_copy(update={"template": self.name}) if spec.template is None else spec


@dataclass(kw_only=True)
class TemplateRegistry:
    _templates: dict[str, Template] = field(default_factory=dict)

    def register(self, template: Template) -> None:
        if template.name in self._templates:
            raise ValueError(f"a template named '{template.name}' is already registered")
        self._templates[template.name] = template

    def get(self, name: str) -> Template:
        template = self._templates.get(name)
        if template is None:
            names = ", ".join(sorted(self._templates)) or "none"
            raise NotFoundError(
                f"no template named '{name}' (templates: {names}); `meshclaw agents templates` lists them",
                field="template",
            )
        return template

    def list(self) -> list[Template]:
        return sorted(self._templates.values(), key=lambda template: template.name)

    def __iter__(self) -> Iterator[Template]:
        return iter(self.list())


def _assistant(agent_name: str, values: Mapping[str, str]) -> AgentSpec:
    # Built through model_validate so a bad setting (a malformed agent name) gets the spec's own message.
    return AgentSpec.model_validate(
        {
            "name": agent_name,
            "purpose": values["purpose"],
            "instructions": (
                "You are a helpful assistant working for one person at their company. Answer briefly and "
                "concretely. Use `remember` for facts and preferences they tell you that will matter later, "
                "and `recall` before answering questions about earlier conversations."
            ),
            "model": ModelChoice(name=values["model"]).model_dump() if values["model"] else None,
            "memory": True,
        }
    )


ASSISTANT = Template(
    name="assistant",
    title="Chat assistant with memory",
    description="An assistant you chat with that remembers what you tell it. No tools, no schedule.",
    settings=(
        TemplateSetting(
            name="model",
            label="Model",
            help="A model a configured provider serves (see /providers); required to chat",
            required=True,
        ),
        TemplateSetting(
            name="purpose", label="Purpose", default="A chat assistant that remembers what I tell it."
        ),
    ),
    build=_assistant,
)


def register_builtins(registry: TemplateRegistry) -> None:
    # Playbooks' templates are imported here, not at the top: their modules import Template from this one.
    from meshclaw.agents import chat_assistant
    from meshclaw.agents.playbooks import deploy_on_request, deployment_watch, inbox_triage

    registry.register(ASSISTANT)
    registry.register(chat_assistant.template())
    registry.register(inbox_triage.template())
    registry.register(deployment_watch.template())
    registry.register(deploy_on_request.template())


def builtin_templates() -> TemplateRegistry:
    registry = TemplateRegistry()
    register_builtins(registry)
    return registry
