"""The guest behind a simulated console: a login prompt and a shell that answers a few commands.

Both console kinds talk to it: the terminal (termproxy) sends its bytes to the browser as they
are, the VNC server draws them on a text screen. Any user name and password log in; the guest
has no real accounts.
"""

import time
from dataclasses import dataclass

KERNEL = "6.1.0-28-amd64"
KERNEL_BUILD = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)"
OS_NAMES = {"debian": "Debian GNU/Linux 12", "ubuntu": "Ubuntu 24.04.1 LTS", "almalinux": "AlmaLinux 9.4",
            "alpine": "Alpine Linux 3.22", "centos": "CentOS Stream 9"}


@dataclass
class GuestInfo:
    vmid: int
    kind: str          # qemu | lxc
    hostname: str
    ip: str
    prefix: int
    mac: str
    os: str
    started_at: float | None
    tty: str = "tty1"

    @property
    def os_name(self):
        return OS_NAMES.get(self.os, OS_NAMES["debian"])


def boot_messages(info):
    """What a VM's screen shows after booting: firmware, kernel, systemd, cloud-init."""
    return "\r\n".join([
        "SeaBIOS (version rel-1.16.3-0-ga6ed6b701f0a-prebuilt.qemu.org)",
        "Booting from Hard Disk...",
        f"[    0.000000] Linux version {KERNEL} (debian-kernel@lists.debian.org)",
        f"[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-{KERNEL} root=/dev/sda1 ro console=ttyS0",
        "[    0.412233] virtio_scsi virtio2: 1/0/0 default/read/poll queues",
        "[    0.915310] EXT4-fs (sda1): mounted filesystem with ordered data mode.",
        "[    1.803117] virtio_net virtio1 eth0: renamed from ens18",
        "[  OK  ] Started systemd-journald.service - Journal Service.",
        "[  OK  ] Reached target network-online.target - Network is Online.",
        "[  OK  ] Started ssh.service - OpenBSD Secure Shell server.",
        "cloud-init[641]: Cloud-init v. 22.4.2 finished. Datasource DataSourceNoCloud [seed=/dev/sr0].",
        "[  OK  ] Reached target multi-user.target - Multi-User System.",
        "",
    ]) + "\r\n"


class GuestShell:
    def __init__(self, info, *, greet_with_boot=False):
        self.info = info
        self.state = "login"
        self.user = ""
        self.line = ""
        self._escape = ""
        self.greeting = (boot_messages(info) if greet_with_boot else "\r\n") + self._banner()

    def _banner(self):
        return f"{self.info.os_name} {self.info.hostname} {self.info.tty}\r\n\r\n{self.info.hostname} login: "

    @property
    def prompt(self):
        home = "~"
        return f"{self.user}@{self.info.hostname}:{home}{'#' if self.user == 'root' else '$'} "

    def reboot(self):
        """Ctrl-Alt-Del: the guest restarts and greets again from the firmware on."""
        self.state, self.user, self.line = "login", "", ""
        return ("\r\n[  OK  ] Reached target reboot.target - System Reboot.\r\n"
                "[   42.118410] reboot: Restarting system\r\n\x1b[H\x1b[2J" + boot_messages(self.info) + self._banner())

    def feed(self, text):
        """Typed characters in, what the guest writes back out."""
        out = []
        for ch in text:
            if self._escape or ch == "\x1b":
                # Arrow keys and other escape sequences: swallowed, as a plain getty would.
                self._escape += ch
                if len(self._escape) > 1 and (self._escape[-1].isalpha() or self._escape[-1] == "~"):
                    self._escape = ""
                elif len(self._escape) > 8:
                    self._escape = ""
                continue
            if ch in "\r\n":
                out.append("\r\n")
                out.append(self._submit(self.line))
                self.line = ""
            elif ch in "\x7f\x08":
                if self.line:
                    self.line = self.line[:-1]
                    if self.state != "password":
                        out.append("\b \b")
            elif ch == "\x03":
                self.line = ""
                out.append("^C\r\n" + (self.prompt if self.state == "shell" else self._banner()))
            elif ch == "\x04" and self.state == "shell" and not self.line:
                out.append("logout\r\n" + self._logout())
            elif ch >= " " and ch != "\x7f":
                self.line += ch
                if self.state != "password":
                    out.append(ch)
        return "".join(out)

    def _logout(self):
        self.state, self.user = "login", ""
        return "\r\n" + self._banner()

    def _submit(self, line):
        if self.state == "login":
            if not line.strip():
                return f"{self.info.hostname} login: "
            self.user, self.state = line.strip(), "password"
            return "Password: "
        if self.state == "password":
            self.state = "shell"
            when = time.strftime("%a %b %d %H:%M:%S %Y")
            return (f"Linux {self.info.hostname} {KERNEL} {KERNEL_BUILD} x86_64\r\n\r\n"
                    f"Last login: {when} on {self.info.tty}\r\n" + self.prompt)
        return self._run(line.strip()) + (self.prompt if self.state == "shell" else "")

    def _run(self, command):
        if not command:
            return ""
        name, _, rest = command.partition(" ")
        info = self.info
        if name == "hostname":
            return info.hostname + "\r\n"
        if name == "uptime":
            return self._uptime() + "\r\n"
        if name == "ip" and rest.split()[:1] in (["a"], ["addr"], ["address"]):
            return self._ip_a()
        if name == "whoami":
            return self.user + "\r\n"
        if name == "uname":
            if rest.strip() == "-a":
                return f"Linux {info.hostname} {KERNEL} {KERNEL_BUILD} x86_64 GNU/Linux\r\n"
            return "Linux\r\n"
        if name == "date":
            return time.strftime("%a %b %d %H:%M:%S %Z %Y") + "\r\n"
        if name == "pwd":
            return ("/root" if self.user == "root" else f"/home/{self.user}") + "\r\n"
        if name == "echo":
            return rest + "\r\n"
        if name == "ls":
            return ""
        if name == "clear":
            return "\x1b[H\x1b[2J"
        if name in ("exit", "logout"):
            return self._logout()
        return f"-bash: {name}: command not found\r\n"

    def _uptime(self):
        seconds = int(time.time() - self.info.started_at) if self.info.started_at else 0
        hours, minutes = divmod(seconds // 60, 60)
        up = f"{hours}:{minutes:02d}" if hours else f"{minutes} min"
        return f" {time.strftime('%H:%M:%S')} up {up},  1 user,  load average: 0.00, 0.01, 0.00"

    def _ip_a(self):
        info = self.info
        return (
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\r\n"
            "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\r\n"
            "    inet 127.0.0.1/8 scope host lo\r\n"
            "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000\r\n"
            f"    link/ether {info.mac} brd ff:ff:ff:ff:ff:ff\r\n"
            f"    inet {info.ip}/{info.prefix} scope global eth0\r\n"
        )
