"""docker/compose.yaml agrees with the CLI, the config keys, the default ports and the Dockerfile."""

import dataclasses
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from nexus_wyoming.cli import SERVER_KINDS, main
from nexus_wyoming.config import DEFAULT_FILE, ENV_PREFIX, PROVIDER_KEY_ENV, Config, Keys, load_config

from .files import COMPOSE, REPO, dockerfile, env_instructions, environment, load_compose, parse_cli, port_of

DEFAULTS = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
INSTRUCTIONS = dockerfile()
IMAGE_ENV = env_instructions(INSTRUCTIONS, max(i.stage for i in INSTRUCTIONS))
EXPOSED = {int(port) for i in INSTRUCTIONS if i.keyword == "EXPOSE" for port in i.args.split()}
#: Which provider keys each server uses; a new key in `Keys` must be placed here and in compose.yaml.
KEYS_BY_SERVER = {"stt": {"deepgram"}, "tts": {"cartesia", "deepgram"}, "intent": {"groq", "google", "tavily", "home_assistant"}}
ENV_BY_KEY = {key: name for name, key in PROVIDER_KEY_ENV.items()}


def servers(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from our Dockerfile."""
    return {name: service for name, service in compose["services"].items()
            if (service.get("build") or {}).get("dockerfile") == "docker/Dockerfile"}


def setting(config: Any, dotted: str) -> Any:
    """The value at a dotted path; KeyError when a part is not a field of that settings class."""
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(config) or part not in {f.name for f in dataclasses.fields(config)}:
            raise KeyError(dotted)
        config = getattr(config, part)
    return config


def command(kind: str) -> tuple[list[str], dict[str, Any]]:
    return parse_cli(main, servers(load_compose())[kind]["command"], "nexus-wyoming")


def test_every_server_has_one_service_built_from_the_dockerfile():
    compose = load_compose()
    assert set(servers(compose)) == set(SERVER_KINDS)
    for service in servers(compose).values():
        assert (COMPOSE.parent / service["build"]["context"]).resolve() == REPO
        assert "entrypoint" not in service  # the image's ENTRYPOINT is nexus-wyoming


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_command_is_the_real_server_command(kind):
    names, params = command(kind)
    assert names == ["nexus-wyoming", kind]
    assert urlsplit(params["uri"]).hostname == "0.0.0.0", "a published port needs the server on every interface"


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_port_is_the_same_everywhere(kind):
    service = servers(load_compose())[kind]
    port = port_of(command(kind)[1]["uri"])
    assert port == port_of(DEFAULTS[kind]["uri"]) == port_of(Config().__getattribute__(kind).uri)
    assert port in EXPOSED
    if service.get("network_mode") == "host":
        assert "ports" not in service
    else:
        published = [str(item).split(":") for item in service["ports"]]
        assert published == [[str(port), str(port)]]
    test = service["healthcheck"]["test"]
    assert test[:2] == ["CMD", "nexus-wyoming"]
    names, params = parse_cli(main, test[2:], test[1])
    assert names == ["nexus-wyoming", "client", "describe"]
    assert params["uri"] == f"tcp://127.0.0.1:{port}"


def test_servers_run_from_the_data_volume():
    compose = load_compose()
    data_dir = IMAGE_ENV["NEXUS_DATA_DIR"]
    assert f"VOLUME {data_dir}" in [f"{i.keyword} {i.args}" for i in INSTRUCTIONS]
    for service in servers(compose).values():
        mounts = [str(item).split(":") for item in service["volumes"]]
        assert [volume for volume, target in mounts if target == data_dir] != []
        assert all(volume in compose["volumes"] for volume, _ in mounts)


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_environment_names_real_settings_and_keys(kind):
    env = environment(servers(load_compose())[kind])
    config = load_config(environ={**IMAGE_ENV, **env})
    for name, value in env.items():
        if name.startswith(ENV_PREFIX):
            dotted = name[len(ENV_PREFIX):].lower().replace("__", ".")
            actual = setting(config, dotted)
            if value:
                assert actual == (value if isinstance(actual, str) else yaml.safe_load(value)), name
        else:
            assert name in PROVIDER_KEY_ENV or name == "TZ", f"{kind}: {name} is read by nothing"
    assert {PROVIDER_KEY_ENV[n] for n in env if n in PROVIDER_KEY_ENV} == KEYS_BY_SERVER[kind]


def test_provider_keys_come_from_the_host_environment():
    assert set().union(*KEYS_BY_SERVER.values()) == {f.name for f in dataclasses.fields(Keys)}
    raw = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    host = {name: f"secret-{name.lower()}" for name in PROVIDER_KEY_ENV}
    for kind, keys in KEYS_BY_SERVER.items():
        for key in keys:
            assert raw[kind]["environment"][ENV_BY_KEY[key]] == f"${{{ENV_BY_KEY[key]}:-}}"
        config = load_config(environ=environment(servers(load_compose(host))[kind]))
        assert {key: getattr(config.keys, key) for key in keys} == {k: f"secret-{ENV_BY_KEY[k].lower()}" for k in keys}
        assert load_config(environ=environment(servers(load_compose())[kind])).keys == Keys()


def test_zeroconf_is_off_unless_host_networking():
    for kind, service in servers(load_compose()).items():
        config = load_config(environ={**IMAGE_ENV, **environment(service)})
        assert config.zeroconf == (service.get("network_mode") == "host"), kind


def test_intent_shares_sessions_through_redis():
    compose = load_compose()
    intent = compose["services"]["intent"]
    url = urlsplit(load_config(environ=environment(intent)).sessions.redis_url)
    assert url.scheme == "redis"
    redis = compose["services"][url.hostname]
    assert redis["image"].startswith("redis:7") and url.port == 6379
    assert "profiles" not in redis and redis["healthcheck"]["test"][:2] == ["CMD", "redis-cli"]
    assert intent["depends_on"][url.hostname]["condition"] == "service_healthy"
    assert load_config(environ=environment(intent)).sessions.history_url is None  # SQLite in the data volume


def test_postgres_urls_in_the_file_match_the_postgres_service():
    compose = load_compose()
    postgres = compose["services"]["postgres"]
    assert postgres["profiles"] == ["postgres"]
    assert all("postgres" not in service.get("depends_on", {}) for service in compose["services"].values())
    env = environment(postgres)
    urls = re.findall(r"postgresql://[^\s)]+", COMPOSE.read_text(encoding="utf-8"))
    assert len(urls) >= 2  # the usage line at the top and the note at the setting
    for text in urls:
        url = urlsplit(text)
        assert (url.hostname, url.port, url.username, url.password, url.path) == (
            "postgres", 5432, env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], f"/{env['POSTGRES_DB']}")
        assert load_config(environ={"NEXUS_SESSIONS__HISTORY_URL": text}).sessions.history_url == text
    ready = ["CMD", "pg_isready", "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"]]
    assert postgres["healthcheck"]["test"] == ready


def test_each_server_image_carries_only_its_own_engines():
    built = servers(load_compose())
    for kind, service in built.items():
        assert service["build"]["args"]["EXTRAS"] == kind and service["image"] == f"nexus-wyoming:{kind}"
    base = next(i.args for i in INSTRUCTIONS if i.keyword == "ARG" and i.stage == 0).partition("=")
    assert {service["build"]["args"][base[0]] for service in built.values()} == {base[2]}
    offline = servers(load_compose({"NEXUS_PYTHON_IMAGE": "localhost/nexus-base:bookworm"}))
    assert {service["build"]["args"][base[0]] for service in offline.values()} == {"localhost/nexus-base:bookworm"}


def test_registry_images_can_be_replaced():
    mirrored = {"NEXUS_REDIS_IMAGE": "localhost/nexus-redis", "NEXUS_POSTGRES_IMAGE": "localhost/nexus-postgres"}
    services = load_compose(mirrored)["services"]
    assert (services["redis"]["image"], services["postgres"]["image"]) == tuple(mirrored.values())
    assert load_compose()["services"]["postgres"]["image"].startswith("postgres:16")


def seconds(duration: str) -> float:
    """A compose duration such as 30s or 1m30s."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, duration
    return int(parts[1] or 0) * 60 + int(parts[2] or 0)


def test_stop_grace_period_outlasts_the_drain():
    drain = Config().limits.drain_timeout_s
    for kind, service in servers(load_compose()).items():
        assert seconds(service["stop_grace_period"]) >= drain + 10, kind  # + closing the stores


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_published_port_can_move(kind):
    service = servers(load_compose({f"NEXUS_{kind.upper()}_PORT": "127.0.0.1:40000"}))[kind]
    assert service["ports"] == [f"127.0.0.1:40000:{port_of(command(kind)[1]['uri'])}"]
