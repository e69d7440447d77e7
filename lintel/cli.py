"""`lintel demo | hub | edge | sim ...` — each side's entry point."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lintel.emqx import BROKER_FLAVOURS
from lintel.logs import configure_logging

if TYPE_CHECKING:
    from simulators.serve import DoorSpec

DEFAULT_DEMO_DIR = Path("demo-data")


async def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop)`; SIGINT/SIGTERM set `stop` so everything closes cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await main(stop)


def _cmd_demo(args: argparse.Namespace) -> int:
    from lintel.demo import HTTP_PORT, MQTT_PORT, PortInUse, run_demo

    try:
        http_port = _demo_port(args.http_port, HTTP_PORT.env, 8080)
        mqtt_port = _demo_port(args.mqtt_port, MQTT_PORT.env, 1883)
        asyncio.run(run_until_signalled(
            lambda stop: run_demo(args.data, stop, http_port=http_port, mqtt_port=mqtt_port)))
    except (PortInUse, BadPort) as exc:  # one line, not a traceback: a first run's stumble
        print(f"lintel demo: {exc}", file=sys.stderr)
        return 2
    return 0


class BadPort(ValueError):
    """A port number from the environment that is not one."""


def _demo_port(flag: int | None, env: str, default: int) -> int:
    """The flag, else the environment variable (so `make run` can be given one), else default."""
    if flag is not None:
        return flag
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        return _port(text)
    except argparse.ArgumentTypeError as exc:
        raise BadPort(f"{env}={text!r}: {exc}") from exc


def _port(text: str) -> int:
    """A TCP port number, 0 meaning any free one."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return port


def _cmd_hub(args: argparse.Namespace) -> int:
    from hub.service import Hub
    from hub.settings import load_settings_or_exit

    settings = load_settings_or_exit()

    async def main(stop: asyncio.Event) -> None:
        async with Hub(settings) as hub:
            # What the start made (models, schemas, the app: some 230,000 objects) lives as
            # long as the process: kept out of the collector's full passes, which otherwise
            # walked all of it a few times a second under load (a tenth of the ingest's CPU).
            gc.freeze()
            print(f"hub serving {hub.url}", flush=True)
            await stop.wait()

    asyncio.run(run_until_signalled(main))
    return 0


def _cmd_edge(args: argparse.Namespace) -> int:
    from edge.agent import EdgeAgent
    from edge.config import load_config
    from edge.errors import ConfigError

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"lintel edge: {exc}", file=sys.stderr)
        return 2

    async def main(stop: asyncio.Event) -> None:
        async with EdgeAgent(config) as agent:
            held = agent.configs.version  # the hub's configuration stored last, if any
            source = f"the hub's configuration v{held}" if held else "its own file"
            print(f"edge {config.site}/{config.edge} running {len(agent.doors)} doors from "
                  f"{source}", flush=True)
            await stop.wait()

    asyncio.run(run_until_signalled(main))
    return 0


def _control_url(args: argparse.Namespace) -> str:
    if args.control:
        return str(args.control)
    info = Path(args.data) / "sim.json"
    try:
        return str(json.loads(info.read_text())["control_url"])
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(
            f"lintel sim: no running simulator found ({info}: {exc}); start `lintel demo` "
            "or pass --control URL"
        ) from exc


def _cmd_sim(args: argparse.Namespace) -> int:
    from simulators import control

    if args.sim_command == "serve":
        return _sim_serve(args)
    if args.sim_command == "camera":
        from simulators import camera_cli

        return camera_cli.run_cli(args)
    if args.sim_command == "load":
        return _sim_load(args)
    if args.sim_command == "plate":
        return _sim_plate(args)
    if args.sim_command == "patrol":
        return _sim_patrol(args)
    if args.sim_command == "meters":
        return _sim_meters(args)
    if args.sim_command == "board":
        return _sim_board(args)
    url = _control_url(args)
    try:
        if args.sim_command == "swipe":
            result = asyncio.run(control.swipe(url, args.door, args.card))
        elif args.sim_command == "door":
            result = asyncio.run(control.contact(url, args.door, args.state == "open"))
        elif args.sim_command == "exit":
            result = asyncio.run(control.press_exit(url, args.door))
        elif args.sim_command == "qr":
            result = asyncio.run(control.scan_qr(url, args.door, args.text))
        elif args.sim_command == "wiegand":
            result = asyncio.run(control.wiegand(url, args.door, args.facility, args.card,
                                                 args.bits))
        elif args.sim_command == "keys":
            result = asyncio.run(control.keys(url, args.door, args.keys))
        elif args.sim_command == "tamper":
            result = asyncio.run(control.tamper(url, args.door, args.state == "on"))
        elif args.sim_command == "power":
            result = asyncio.run(control.power(url, args.door, args.state == "fail"))
        elif args.sim_command in _DEVICE_COMMANDS:
            result = asyncio.run(_device_command(url, args))
        else:
            result = asyncio.run(control.doors(url))
    except control.ControlError as exc:
        print(f"lintel sim: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _sim_patrol(args: argparse.Namespace) -> int:
    from simulators.patrol import PatrolError, walk

    try:
        secrets = json.loads(args.secrets.read_text("utf-8"))
        password = os.environ.get("LINTEL_PATROL_PASSWORD") or args.password
        result = asyncio.run(walk(args.hub, args.site, args.guard, password, args.route,
                                  secrets, args.key, skip=set(args.skip or ()),
                                  pace_s=args.pace, offline=args.offline))
    except (OSError, ValueError, KeyError, PatrolError) as exc:
        print(f"lintel sim patrol: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _cmd_provision(args: argparse.Namespace) -> int:
    from lintel.provision import (
        DYNSEC_FILE,
        ProvisionError,
        provision_edge,
        provision_hub,
        provision_tls,
    )

    out: Path = args.out
    try:
        if args.what == "edge":
            identity = provision_edge(out, args.site, args.building,
                                      broker_host=args.broker_host, broker_port=args.broker_port,
                                      tls=args.tls, doors=args.door, client_cert=args.cert,
                                      broker_flavour=args.broker_flavour)
        elif args.what == "tls":
            files = provision_tls(out, args.host)
            print(f"CA: {files.cert.parent / 'ca.crt'} (give it to every edge and hub: ca_file)")
            print(f"broker certificate: {files.cert}, key: {files.key}")
            print("Mosquitto: the TLS listeners in deploy/mosquitto/mosquitto.conf use them; "
                  "restart it to apply")
            return 0
        else:
            identity = provision_hub(out, args.username, args.broker_flavour)
    except (ProvisionError, OSError, ValueError, TypeError) as exc:
        print(f"lintel provision: {exc}", file=sys.stderr)
        return 2
    print(f"username: {identity.username}")
    if identity.password:
        print(f"password: {identity.password}")
    print(f"broker: {out / 'mosquitto' / DYNSEC_FILE} updated; restart Mosquitto to apply "
          "(docker compose restart mosquitto; its queues persist)")
    if args.broker_flavour == "emqx":
        print(f"EMQX: {out / 'emqx'} users.csv and acl.conf rendered from it; restart the "
              "cluster's nodes one by one to apply")
    if args.what == "edge":
        print(f"config: {identity.config} - the edge's bootstrap; mount it as the edge's "
              "/etc/lintel/edge.yaml. Its doors, devices and cameras come from the hub")
        if args.cert and identity.config is not None:  # provision_edge always writes one
            print(f"client certificate: {identity.config.with_suffix('.crt')} and .key - mount "
                  "them under /etc/lintel/ beside ca.crt")
    else:
        print(f"env file: {identity.config} - every hub worker's env_file "
              "(each worker sets its own LINTEL_HUB_MQTT_CLIENT_ID)")
    return 0


def _sim_plate(args: argparse.Namespace) -> int:
    """Push one recognition to a lane as its Vzenith camera would, and say what the barrier
    did."""
    from simulators.lpr import push_plate

    url = f"{args.edge.rstrip('/')}/lpr/{args.lane}"
    try:
        got = push_plate(url, args.plate, user=args.user, secret=args.secret,
                         colour=args.colour, confidence=args.confidence)
    except OSError as exc:
        print(f"lintel sim plate: cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    barrier = "up (opened)" if got.opened else "stays down"
    print(json.dumps({"lane": args.lane, "plate": args.plate, "status": got.status,
                      "barrier": barrier, "answer": got.body}, ensure_ascii=False, indent=2))
    return 0 if got.status == 200 else 1


def _sim_serve(args: argparse.Namespace) -> int:
    from simulators.serve import DoorSpec, serve

    try:
        doors = [DoorSpec.parse(text) for text in args.door or []]
        if args.edge_config:
            doors += _doors_of_edge(args.edge_config)
        if not doors:
            raise ValueError("name doors with --door or --edge-config")
    except ValueError as exc:
        print(f"lintel sim serve: {exc}", file=sys.stderr)
        return 2
    asyncio.run(run_until_signalled(
        lambda stop: serve(doors, args.data, stop, control_port=args.control_port)))
    return 0


def _sim_meters(args: argparse.Namespace) -> int:
    from decimal import Decimal, InvalidOperation

    from simulators.dlt645_meters import MeterLineSimulator, SimulatedMeter

    try:
        meters = []
        for text in args.meter or []:
            number, _, kwh = text.partition(":")
            meters.append(SimulatedMeter(number, kwh=Decimal(kwh or "0"),
                                         kw=Decimal(str(args.kw)), speed=args.speed))
        start = Decimal(str(args.kwh))
        for i in range(args.riser):
            meters.append(SimulatedMeter(f"{args.first + i:012d}", kwh=start + i,
                                         kw=Decimal(str(args.kw)), speed=args.speed))
        if not meters:
            raise ValueError("name meters with --meter NUMBER[:KWH] or --riser N")
        line = MeterLineSimulator(meters, baudrate=args.baud or None)
    except (ValueError, InvalidOperation) as exc:
        print(f"lintel sim meters: {exc}", file=sys.stderr)
        return 2

    async def run(stop: asyncio.Event) -> None:
        with line:
            print(json.dumps({"port": line.port, "meters": [
                {"number": m.address, "kwh": str(m.energy())} for m in meters]}), flush=True)
            await stop.wait()

    asyncio.run(run_until_signalled(run))
    return 0


def _sim_board(args: argparse.Namespace) -> int:
    from edge.sensors.loader import load_models
    from simulators.led_board import LedBoardSimulator

    model = load_models().get(args.model)
    if model is None or model.device_type != "led_board":
        print(f"lintel sim board: {args.model!r} is not an LED board model", file=sys.stderr)
        return 2

    async def run(stop: asyncio.Event) -> None:
        async with LedBoardSimulator(model, name=args.name, png_path=args.png) as board:
            print(json.dumps({"name": args.name, "model": model.model, "host": "127.0.0.1",
                              "tcp_port": board.tcp_port,
                              "png": str(args.png) if args.png else None}), flush=True)
            await stop.wait()

    asyncio.run(run_until_signalled(run))
    return 0


def _sim_load(args: argparse.Namespace) -> int:
    import yaml
    from pydantic import ValidationError

    from simulators.loadgen import LoadProfile, run_load

    try:
        raw = yaml.safe_load(args.profile.read_text()) if args.profile else {}
        overrides = {k: v for k, v in {
            "host": args.host, "port": args.port, "site": args.site, "edges": args.edges,
            "swipes_per_edge_s": args.swipes, "telemetry_every_s": args.telemetry_every,
            "max_rate": args.max_rate, "duration_s": args.duration, "threads": args.threads,
        }.items() if v is not None}
        profile = LoadProfile.model_validate({**(raw or {}), **overrides})
        passwords = _read_credentials(args.credentials) if args.credentials else None
        summary = run_load(profile, passwords=passwords)
    except (OSError, yaml.YAMLError, ValueError, ValidationError) as exc:
        print(f"lintel sim load: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0 if summary["errors"] == 0 and summary["unacked"] == 0 else 1


def _read_credentials(path: Path) -> dict[str, str]:
    """`username:password` lines, one per simulated edge."""
    out: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            user, sep, password = line.partition(":")
            if not sep or not user:
                raise ValueError(f"{path}:{number}: expected username:password")
            out[user] = password
    return out


def _doors_of_edge(path: Path) -> list[DoorSpec]:
    """One simulated door per door of an edge config, its pty linked at the reader's port."""
    from edge.config import load_config
    from edge.errors import ConfigError
    from simulators.serve import DoorSpec

    try:
        config = load_config(path)
    except ConfigError as exc:
        raise ValueError(str(exc)) from exc
    doors = config.installation().resolved().doors
    ports = [d.reader.serial_port for d in doors]
    shared = sorted({p for p in ports if ports.count(p) > 1})
    if shared:
        raise ValueError(f"{path}: doors share reader port {', '.join(shared)}; the simulator "
                         "serves one reader per port")
    return [DoorSpec(d.id, d.reader.address, d.reader.key, link=Path(d.reader.serial_port))
            for d in doors]


_DEVICE_COMMANDS = ("elevator", "fault", "pressure", "zone", "fire-reset", "silent", "devices")


async def _device_command(url: str, args: argparse.Namespace) -> dict[str, object]:
    from simulators import modbus_control as mc

    cmd = args.sim_command
    if cmd == "devices":
        return await mc.devices(url)
    bodies: dict[str, tuple[str, dict[str, object]]] = {
        "elevator": ("elevator", {"floor": getattr(args, "floor", 0)}),
        "fault": ("fault", {"code": getattr(args, "code", ""), "active": not getattr(args, "clear", False)}),
        "pressure": ("pressure", {"value": getattr(args, "value", 0.0)}),
        "zone": ("zone", {"zone": getattr(args, "zone", 0), "state": getattr(args, "state", "")}),
        "fire-reset": ("reset", {}),
        "silent": ("silent", {"silent": not getattr(args, "off", False)}),
    }
    action, body = bodies[cmd]
    return await mc.device_action(url, args.device, action, body)


def _add_device_commands(simsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lift = simsub.add_parser("elevator", help="move a simulated elevator to a floor")
    lift.add_argument("--device", required=True)
    lift.add_argument("--floor", type=int, required=True)
    fault = simsub.add_parser("fault", help="inject (or --clear) a device fault code")
    fault.add_argument("--device", required=True)
    fault.add_argument("--code", required=True)
    fault.add_argument("--clear", action="store_true")
    pressure = simsub.add_parser("pressure", help="set a pressure sensor's reading")
    pressure.add_argument("--device", required=True)
    pressure.add_argument("--value", type=float, required=True)
    zone = simsub.add_parser("zone", help="set a fire panel zone's state (fire, normal, fault…) or an "
                          "alarm panel's (active, normal, tamper, fault)")
    zone.add_argument("--device", required=True)
    zone.add_argument("--zone", type=int, required=True)
    zone.add_argument("state", nargs="?", default="fire")
    reset = simsub.add_parser("fire-reset", help="reset a fire panel (clears zone alarms)")
    reset.add_argument("--device", required=True)
    silent = simsub.add_parser("silent", help="make a device stop answering (or --off)")
    silent.add_argument("--device", required=True)
    silent.add_argument("--off", action="store_true")
    simsub.add_parser("devices", help="each simulated Modbus device's values and recent writes")


def _add_camera_commands(simsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from simulators import camera_cli

    camera_cli.add_cli(simsub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lintel", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="broker, hub, one simulated building and its edge")
    demo.add_argument("--data", type=Path, default=DEFAULT_DEMO_DIR, help="data folder")
    demo.add_argument("--http-port", type=_port, metavar="PORT",
                      help="web console and API (default 8080, or $LINTEL_DEMO_HTTP_PORT; "
                           "0: any free port)")
    demo.add_argument("--mqtt-port", type=_port, metavar="PORT",
                      help="MQTT broker (default 1883, or $LINTEL_DEMO_MQTT_PORT; "
                           "0: any free port)")
    demo.set_defaults(func=_cmd_demo)

    hub = sub.add_parser("hub", help="run the hub (settings from LINTEL_HUB_* or LINTEL_HUB_CONFIG)")
    hub.set_defaults(func=_cmd_hub)

    edge = sub.add_parser("edge", help="run an edge agent")
    edge.add_argument("--config", type=Path, required=True, help="the agent's YAML file")
    edge.set_defaults(func=_cmd_edge)

    sim = sub.add_parser("sim", help="drive the simulated hardware of a running demo")
    sim.add_argument("--data", type=Path, default=DEFAULT_DEMO_DIR, help="the demo's data folder")
    sim.add_argument("--control", help="simulator control URL (default: read from the data folder)")
    simsub = sim.add_subparsers(dest="sim_command", required=True)
    swipe = simsub.add_parser("swipe", help="present a card at a door's reader")
    swipe.add_argument("--door", required=True)
    swipe.add_argument("--card", required=True)
    door = simsub.add_parser("door", help="open or close a door (its contact)")
    door.add_argument("--door", required=True)
    door.add_argument("state", choices=["open", "close"])
    ex = simsub.add_parser("exit", help="press a door's request-to-exit button")
    ex.add_argument("--door", required=True)
    simsub.add_parser("status", help="each simulated door's relay and reader state")
    plate = simsub.add_parser("plate", help="push a plate recognition to a vehicle lane "
                              "(Vzenith AlarmInfoPlate, with a rendered picture)")
    plate.add_argument("--lane", required=True, help="the lane id, e.g. gate-in")
    plate.add_argument("--plate", required=True, help="e.g. 粤B12345")
    plate.add_argument("--colour", default="blue",
                       choices=["blue", "yellow", "green", "white", "black"])
    plate.add_argument("--confidence", type=float, default=0.95, help="0 to 1")
    plate.add_argument("--edge", default="http://127.0.0.1:8088",
                       help="the edge's lane server")
    plate.add_argument("--user", default="camera", help="the lane camera's user")
    plate.add_argument("--secret", required=True, help="the lane camera's secret")
    serve = simsub.add_parser("serve", help="run simulated readers + door controllers on ptys")
    serve.add_argument("--door", action="append", metavar="NAME:ADDRESS:SCBK",
                       help="a door to simulate, e.g. B1-main:101:<32 hex digits>, or "
                            "B1-main:101:install for a reader in install mode; repeatable")
    serve.add_argument("--edge-config", type=Path, metavar="FILE",
                       help="simulate every door of this edge config, each pty linked at its "
                            "reader port")
    serve.add_argument("--control-port", type=int, default=0, help="control server port")
    meters = simsub.add_parser("meters", help="DL/T 645 electricity meters on one pty (a riser)")
    meters.add_argument("--meter", action="append", metavar="NUMBER[:KWH]",
                        help="a meter's 12-digit number and its reading, e.g. "
                             "000000000101:1234.5; repeatable")
    meters.add_argument("--riser", type=int, default=0, metavar="N",
                        help="N more meters numbered from --first")
    meters.add_argument("--first", type=int, default=100000000001)
    meters.add_argument("--kwh", type=float, default=1000.0, help="the riser's first reading")
    meters.add_argument("--kw", type=float, default=0.5, help="each meter's load")
    meters.add_argument("--speed", type=float, default=1.0, help="simulated hours per hour")
    meters.add_argument("--baud", type=int, default=0,
                        help="answer at this line speed's timing (e.g. 2400); 0: at once")
    board = simsub.add_parser("board", help="an LED notice board (Modbus/TCP text controller)")
    board.add_argument("--name", default="B1-board", help="its device id")
    board.add_argument("--model", default="led-board-t192", help="an LED board model")
    board.add_argument("--png", type=Path, help="write what it shows to this PNG at each page")
    load = simsub.add_parser("load", help="N simulated edges publishing through a real broker")
    load.add_argument("--profile", type=Path, help="YAML of load settings (simulators/loadgen.py)")
    load.add_argument("--host")
    load.add_argument("--port", type=int)
    load.add_argument("--site")
    load.add_argument("--edges", type=int, help="simulated edges, each its own connection")
    load.add_argument("--swipes", type=float, help="swipes/s per edge outside rush hour")
    load.add_argument("--telemetry-every", type=float, help="seconds between a device's readings")
    load.add_argument("--max-rate", type=float, help="cap on events/s over all edges")
    load.add_argument("--duration", type=float, help="seconds")
    load.add_argument("--threads", type=int)
    load.add_argument("--credentials", type=Path, help="username:password lines, one per edge")
    wg = simsub.add_parser("wiegand", help="present a raw Wiegand card (facility + number)")
    wg.add_argument("--door", required=True)
    wg.add_argument("--facility", type=int, required=True)
    wg.add_argument("--card", type=int, required=True)
    wg.add_argument("--bits", type=int, choices=[26, 34], default=26)
    keys = simsub.add_parser("keys", help="press keys on a door's keypad, e.g. 2580#")
    keys.add_argument("--door", required=True)
    keys.add_argument("keys")
    tamper = simsub.add_parser("tamper", help="open (on) or close (off) a reader's tamper switch")
    tamper.add_argument("--door", required=True)
    tamper.add_argument("state", choices=["on", "off"])
    power = simsub.add_parser("power", help="a reader reports a power failure, or power back")
    power.add_argument("--door", required=True)
    power.add_argument("state", choices=["fail", "ok"])
    qr = simsub.add_parser("qr", help="show a QR code (token text) to a door's reader")
    qr.add_argument("--door", required=True)
    qr.add_argument("--text", required=True, help="e.g. the token of GET /api/v1/me/qr")
    patrol = simsub.add_parser("patrol", help="a guard's phone walks a patrol round")
    patrol.add_argument("--guard", required=True, help="the guard's username")
    patrol.add_argument("--route", required=True, help="the route's code, e.g. night-a")
    patrol.add_argument("--site", default="demo")
    patrol.add_argument("--hub", default="http://127.0.0.1:8080", help="the hub's address")
    patrol.add_argument("--password", default="", help="or LINTEL_PATROL_PASSWORD")
    patrol.add_argument("--secrets", type=Path, required=True,
                        help='the checkpoint displays\' secrets, JSON {"CP1": "<hex>"}')
    patrol.add_argument("--key", type=Path, default=Path("patrol-phone.key"),
                        help="the phone's key file (made and enrolled when missing)")
    patrol.add_argument("--skip", action="append", metavar="CHECKPOINT",
                        help="leave this checkpoint out; repeatable")
    patrol.add_argument("--pace", type=float, default=0.0, help="seconds between checkpoints")
    patrol.add_argument("--offline", action="store_true",
                        help="queue every reading and send them at the end")
    _add_device_commands(simsub)
    _add_camera_commands(simsub)
    sim.set_defaults(func=_cmd_sim)

    prov = sub.add_parser("provision", help="broker accounts and what each may do, for edges and hubs")
    prov.add_argument("--out", type=Path, default=Path("deploy"), help="deployment folder")
    prov.add_argument("--broker-flavour", choices=BROKER_FLAVOURS, default="mosquitto",
                      help="emqx: also render the accounts for an EMQX cluster "
                      "(docker-compose.emqx.yml)")
    provsub = prov.add_subparsers(dest="what", required=True)
    pedge = provsub.add_parser("edge", help="an edge's account, ACL and config file")
    pedge.add_argument("site")
    pedge.add_argument("building")
    pedge.add_argument("--broker-host", default="mosquitto")
    pedge.add_argument("--broker-port", type=int, default=None,
                       help="default 1883, 8883 with --tls, 8884 with --cert")
    pedge.add_argument("--tls", action="store_true", help="connect to the broker over TLS")
    pedge.add_argument("--door", action="append", metavar="ID",
                       help="a door of a new config's initial installation, for labs "
                       "(repeatable; default: none, the hub sends the installation)")
    pedge.add_argument("--cert", action="store_true",
                       help="a client certificate (CN = username) instead of a password")
    phub = provsub.add_parser("hub", help="a hub worker's account and ACL")
    phub.add_argument("--username", default="hub")
    ptls = provsub.add_parser("tls", help="the CA and the broker's server certificate")
    ptls.add_argument("--host", action="append", required=True,
                      help="a name or address clients connect to (repeatable)")
    prov.set_defaults(func=_cmd_provision)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
