"""Reference renderer: Python jinja2 configured exactly as Hugging Face
transformers' apply_chat_template (transformers 5.x, utils/chat_template_utils.py):

- ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
  extensions=[AssistantTracker ({% generation %}), jinja2.ext.loopcontrols])
- filters["tojson"] = json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=False)
- globals: raise_exception (TemplateError), strftime_now (datetime.now().strftime),
  dict, namespace (rejects underscore-prefixed attribute names)
- render(messages=..., tools=None, documents=None, add_generation_prompt=False, **kwargs),
  with reasoning fields aliased onto `thinking` and `reasoning_content`.

`now` (unix seconds) replaces the clock so outputs are reproducible.
"""
import copy
import functools
import json
from datetime import datetime, timezone

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.utils
from jinja2.sandbox import ImmutableSandboxedEnvironment

REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


class GenerationTag(jinja2.ext.Extension):
    """HF's AssistantTracker when inactive: {% generation %}body{% endgeneration %} renders body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


class TemplateNamespace(jinja2.utils.Namespace):
    def __init__(*args, **kwargs):
        self, args = args[0], args[1:]
        attrs = dict(*args, **kwargs)
        for name in attrs:
            TemplateNamespace._check_name(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name, value):
        TemplateNamespace._check_name(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check_name(name):
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(
                f"Chat templates cannot store underscore-prefixed attributes on a namespace, but got {name!r}. "
                "Please rename the attribute."
            )


class TemplateDict:
    def __call__(self, *args, **kwargs):
        return dict(*args, **kwargs)

    def fromkeys(self, *args, **kwargs):
        return dict.fromkeys(*args, **kwargs)


def make_environment(now=None):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        # A fixed `now` is read in UTC (the C++ side runs with TZ=UTC), a naive datetime as HF's.
        moment = datetime.now() if now is None else datetime.fromtimestamp(now, tz=timezone.utc).replace(tzinfo=None)
        return moment.strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    env.globals["dict"] = TemplateDict()
    env.globals["namespace"] = TemplateNamespace
    return env


def alias_reasoning(messages):
    out = []
    for message in messages:
        if isinstance(message, dict):
            reasoning = next((message[k] for k in REASONING_FIELDS if message.get(k) is not None), None)
            if reasoning is not None:
                message = {"thinking": reasoning, **message, "reasoning_content": reasoning}
        out.append(message)
    return out


@functools.lru_cache(maxsize=256)
def _compiled(template_source, now):
    return make_environment(now).from_string(template_source)


def render(template_source, context, now=None, hf=True):
    """Returns (True, text) or (False, error message). The context is deep-copied first:
    some jinja2 filters mutate lists in place (indent's `s += "\\n"` extends a list)."""
    context = copy.deepcopy(context)
    try:
        template = _compiled(template_source, now)
        if not hf:
            return True, template.render(**context)
        kwargs = dict(context)
        tools = kwargs.pop("tools", None)
        documents = kwargs.pop("documents", None)
        add_generation_prompt = kwargs.pop("add_generation_prompt", False)
        messages = kwargs.pop("messages", None)
        if messages is not None:
            kwargs["messages"] = alias_reasoning(messages)
        return True, template.render(
            tools=tools, documents=documents, add_generation_prompt=add_generation_prompt, **kwargs
        )
    except Exception as e:  # jinja2 raises many types; the message is what we compare
        return False, str(e)
