"""Loads generated LiteLLM configs with the real litellm package, offline.

argv[1]: JSON {"strategies": [...], "configs": {name: config_yaml_text}}. Prints one JSON
report per config; exits non-zero on the first problem. LiteLLM silently drops invalid
deployments and never checks fallback targets, so both are compared here.
"""
import asyncio
import json
import os
import re
import sys

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import yaml  # noqa: E402
import litellm  # noqa: E402
from litellm.router_utils.routing_groups import validate_routing_strategy  # noqa: E402

REDIS_KEYS = {"redis_host", "redis_port", "redis_password"}


def fail(name, why):
    print(f"{name}: {why}", file=sys.stderr)
    sys.exit(1)


async def check(name, text):
    config = yaml.safe_load(text)
    refs = set(re.findall(r"os\.environ/([A-Z0-9_]+)", text))
    for ref in refs:
        os.environ[ref] = f"test-{ref.lower()}"
    model_list = config["model_list"]
    settings = dict(config["router_settings"])
    valid = set(litellm.Router.get_valid_args())
    unknown = set(settings) - valid
    if unknown:
        fail(name, f"router_settings keys Router does not take: {sorted(unknown)}")
    for key in REDIS_KEYS:
        settings.pop(key)
    router = litellm.Router(model_list=model_list, **settings)
    if len(router.model_list) != len(model_list):
        fail(name, f"{len(model_list)} deployments in config, {len(router.model_list)} loaded")
    groups = set(router.get_model_names())
    for entry in settings["fallbacks"]:
        for source, targets in entry.items():
            for target in [source, *targets]:
                if target not in groups:
                    fail(name, f"fallback {source} -> {target}: no such model group")
    answers = {}
    for group in sorted(groups):
        resp = await router.acompletion(
            model=group, messages=[{"role": "user", "content": "ping"}], mock_response="ok"
        )
        answers[group] = resp.choices[0].message.content
        if answers[group] != "ok":
            fail(name, f"{group} answered {answers[group]!r}")
    return {
        "deployments": len(router.model_list),
        "groups": sorted(groups),
        "routing_strategy": router.routing_strategy,
        "answers": answers,
    }


async def main():
    job = json.loads(sys.argv[1])
    for s in job["strategies"]:
        validate_routing_strategy(s)
    out = {}
    for name, text in sorted(job["configs"].items()):
        out[name] = await check(name, text)
    print(json.dumps(out, sort_keys=True))


asyncio.run(main())
