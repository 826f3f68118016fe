"""Static catalog of the simulated estate: hardware models, OS builds and applications.

Numbers follow the generator table in ``docs/simulator.md`` (itself from the reference notes:
HDD boots 3–4× SSD, ≈1 update restart per device-month, Zipf-concentrated stop errors,
per-app-device-day crash probability 0.1–1 % for mainstream apps).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Model:
    """A hardware model and its boot profile."""

    manufacturer: str
    name: str
    sku: str
    chassis: int  # SMBIOS chassis type: 3 desktop, 10 notebook, 31 convertible, 35 mini PC
    disk: str  # "ssd" | "hdd"
    boot_mult: float  # per-model multiplier on the disk's core-boot median
    weight: float  # share of the fleet
    cpu: str
    cores: int
    ram_mb: tuple[int, ...]
    battery_mwh: int  # 0 = no battery
    stop_errors_per_month: float
    stop_module: str
    firmware: str

    @property
    def has_battery(self) -> bool:
        return self.battery_mwh > 0


MODELS: tuple[Model, ...] = (
    Model(
        "Dell Inc.",
        "Latitude 7440",
        "0C0F",
        10,
        "ssd",
        1.00,
        0.20,
        "13th Gen Intel(R) Core(TM) i7-1365U",
        10,
        (16384, 32768),
        57000,
        0.02,
        "igdkmdn64.sys",
        "1.21.1",
    ),
    Model(
        "Dell Inc.",
        "OptiPlex 7090",
        "09A2",
        3,
        "ssd",
        0.90,
        0.10,
        "11th Gen Intel(R) Core(TM) i5-11500",
        6,
        (8192, 16384),
        0,
        0.01,
        "e1d68x64.sys",
        "1.27.0",
    ),
    Model(
        "Dell Inc.",
        "OptiPlex 3050",
        "07A3",
        3,
        "hdd",
        1.00,
        0.07,
        "Intel(R) Core(TM) i5-7500 CPU @ 3.40GHz",
        4,
        (8192,),
        0,
        0.02,
        "iaStorA.sys",
        "1.26.0",
    ),
    Model(
        "HP",
        "HP EliteBook 840 G9",
        "6F6E2EA",
        10,
        "ssd",
        1.08,
        0.17,
        "12th Gen Intel(R) Core(TM) i5-1245U",
        10,
        (16384,),
        51000,
        0.03,
        "Netwtw10.sys",
        "U70 Ver. 01.16.00",
    ),
    Model(
        "HP",
        "HP EliteBook 840 G5",
        "3JX66EA",
        10,
        "ssd",
        1.15,
        0.06,
        "Intel(R) Core(TM) i5-8350U CPU @ 1.70GHz",
        4,
        (8192, 16384),
        50000,
        0.15,
        "intelppm.sys",
        "Q78 Ver. 01.28.00",
    ),
    Model(
        "HP",
        "HP ProDesk 600 G3 SFF",
        "1ND78EA",
        3,
        "hdd",
        1.06,
        0.07,
        "Intel(R) Core(TM) i5-6500 CPU @ 3.20GHz",
        4,
        (8192,),
        0,
        0.02,
        "storport.sys",
        "P07 Ver. 02.45",
    ),
    Model(
        "LENOVO",
        "ThinkPad T14 Gen 3",
        "21AH00BPGE",
        10,
        "ssd",
        0.95,
        0.15,
        "12th Gen Intel(R) Core(TM) i7-1260P",
        12,
        (16384, 32768),
        52500,
        0.02,
        "ibtusb.sys",
        "N3MET18W (1.17 )",
    ),
    Model(
        "LENOVO",
        "ThinkCentre M720q",
        "10T7S0AH00",
        35,
        "ssd",
        0.92,
        0.06,
        "Intel(R) Core(TM) i5-8500T CPU @ 2.10GHz",
        6,
        (8192, 16384),
        0,
        0.01,
        "rt640x64.sys",
        "M1UKT4DA",
    ),
    Model(
        "LENOVO",
        "ThinkPad L480",
        "20LS001AGE",
        10,
        "hdd",
        0.97,
        0.05,
        "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz",
        4,
        (8192,),
        45000,
        0.03,
        "iaStorAC.sys",
        "R0QET71W (1.48 )",
    ),
    Model(
        "Microsoft Corporation",
        "Surface Laptop 5",
        "Surface_Laptop_5_1950",
        31,
        "ssd",
        0.80,
        0.07,
        "12th Gen Intel(R) Core(TM) i7-1265U",
        10,
        (16384,),
        47400,
        0.02,
        "SurfaceAcpiNotifyDriver.sys",
        "18.101.140",
    ),
)
MODELS_BY_NAME: dict[str, Model] = {m.name: m for m in MODELS}

# Disk boot profiles: (median ms, p90 ms) per metric and disk type.
BOOT_PROFILE: dict[str, dict[str, tuple[float, float]]] = {
    "ssd": {
        "core": (12000, 25000),
        "gp": (2000, 10000),
        "update": (60000, 300000),
        "post": (10000, 40000),
        "coreLogon": (6000, 15000),
        "gpLogon": (3000, 20000),
        "responsive": (8000, 30000),
    },
    "hdd": {
        "core": (42000, 85000),
        "gp": (5000, 30000),
        "update": (150000, 600000),
        "post": (60000, 180000),
        "coreLogon": (18000, 45000),
        "gpLogon": (8000, 40000),
        "responsive": (35000, 120000),
    },
}


@dataclass(frozen=True, slots=True)
class OsBuild:
    """A Windows build: base version and its monthly cumulative-update revisions (UBRs)."""

    build: str  # "10.0.22631"
    edition_name: str
    ubrs: tuple[int, ...]
    weight: float


OS_BUILDS: tuple[OsBuild, ...] = (
    OsBuild("10.0.22631", "Windows 11 23H2", (4169, 4317, 4460, 4602), 0.45),
    OsBuild("10.0.26100", "Windows 11 24H2", (1742, 2033, 2314, 2605), 0.25),
    OsBuild("10.0.22621", "Windows 11 22H2", (4169, 4317, 4460, 4602), 0.10),
    OsBuild("10.0.19045", "Windows 10 22H2", (4894, 5011, 5131, 5247), 0.20),
)
OS_EDITIONS: tuple[str, ...] = ("Enterprise", "Professional")
OS_UPDATE_KB: tuple[str, ...] = ("KB5044285", "KB5046633", "KB5048685", "KB5050021")


@dataclass(frozen=True, slots=True)
class App:
    """An application: versions (oldest first), reliability and usage profile."""

    name: str  # executable file name (appName)
    publisher: str
    display: str
    source: str
    versions: tuple[str, ...]
    version_crash_mult: tuple[float, ...]
    install_p: float  # share of devices that have it
    use_p: float  # probability it is used on an active day
    focus_share: float  # typical in-focus share of a usage window
    crash_per_day: float  # expected crashes per device-day of use (version multiplier 1)
    hang_ratio: float  # hangs per crash
    audio: bool  # plays audio (meetings) — keep-alive usage
    modules: tuple[tuple[str, str, str], ...]  # (modName, modVersion, exceptionCode), Zipf-weighted


APPS: tuple[App, ...] = (
    App(
        "msedge.exe",
        "Microsoft Corporation",
        "Microsoft Edge",
        "MSI",
        ("130.0.2849.80", "131.0.2903.70", "131.0.2903.112"),
        (1.0, 0.9, 1.0),
        1.0,
        0.95,
        0.45,
        0.004,
        2.0,
        False,
        (
            ("msedge.dll", "131.0.2903.70", "0xC0000005"),
            ("ntdll.dll", "10.0.22621.4317", "0xC0000374"),
            ("KERNELBASE.dll", "10.0.22621.4317", "0xE0000008"),
        ),
    ),
    App(
        "chrome.exe",
        "Google LLC",
        "Google Chrome",
        "MSI",
        ("130.0.6723.117", "131.0.6778.86", "131.0.6778.140"),
        (1.0, 1.1, 0.9),
        0.4,
        0.8,
        0.4,
        0.005,
        1.5,
        False,
        (("chrome.dll", "131.0.6778.86", "0xC0000005"), ("ntdll.dll", "10.0.22621.4317", "0xC0000409")),
    ),
    App(
        "ms-teams.exe",
        "Microsoft Corporation",
        "Microsoft Teams",
        "Appx",
        ("24243.1309.3132.617", "24277.3502.3161.3007"),
        (1.0, 1.0),
        0.95,
        0.9,
        0.25,
        0.01,
        3.0,
        True,
        (
            ("msteams.dll", "24277.3502.3161.3007", "0xC0000005"),
            ("EBWebView.dll", "131.0.2903.70", "0x80000003"),
            ("ucrtbase.dll", "10.0.22621.3593", "0xC0000409"),
        ),
    ),
    App(
        "OUTLOOK.EXE",
        "Microsoft Corporation",
        "Microsoft Outlook",
        "MSI",
        ("16.0.17928.20156", "16.0.18025.20140"),
        (1.0, 0.95),
        0.95,
        0.9,
        0.3,
        0.006,
        2.5,
        False,
        (
            ("olmapi32.dll", "16.0.17928.20156", "0xC0000005"),
            ("mso20win32client.dll", "16.0.17928.20156", "0xC0000409"),
        ),
    ),
    App(
        "WINWORD.EXE",
        "Microsoft Corporation",
        "Microsoft Word",
        "MSI",
        ("16.0.17928.20156", "16.0.18025.20140"),
        (1.0, 1.0),
        0.95,
        0.55,
        0.35,
        0.004,
        1.5,
        False,
        (("wwlib.dll", "16.0.17928.20156", "0xC0000005"),),
    ),
    App(
        "EXCEL.EXE",
        "Microsoft Corporation",
        "Microsoft Excel",
        "MSI",
        ("16.0.17928.20156", "16.0.18025.20140"),
        (1.0, 1.0),
        0.95,
        0.6,
        0.35,
        0.005,
        2.0,
        False,
        (("EXCEL.EXE", "16.0.17928.20156", "0xC0000005"), ("VBE7.DLL", "7.1.11.28", "0xC0000005")),
    ),
    App(
        "Zoom.exe",
        "Zoom Video Communications, Inc.",
        "Zoom Workplace",
        "ARP",
        ("6.2.5.48233", "6.3.0.52884"),
        (1.0, 1.2),
        0.3,
        0.4,
        0.2,
        0.006,
        1.0,
        True,
        (("zVideoUI.dll", "6.2.5.48233", "0xC0000005"),),
    ),
    App(
        "Acrobat.exe",
        "Adobe Inc.",
        "Adobe Acrobat",
        "MSI",
        ("24.3.20180", "24.4.20220"),
        (1.0, 0.9),
        0.7,
        0.35,
        0.3,
        0.005,
        1.0,
        False,
        (("AcroRd32.dll", "24.3.20180.0", "0xC0000005"), ("AGM.dll", "24.3.20180.0", "0xC0000005")),
    ),
    App(
        "saplogon.exe",
        "SAP SE",
        "SAP Logon",
        "MSI",
        ("7700.1.7.1180", "8000.1.10.1163"),
        (1.0, 0.7),
        0.25,
        0.6,
        0.5,
        0.02,
        1.0,
        False,
        (("sapfewdll.dll", "7700.1.7.1180", "0xC0000005"),),
    ),
    App(
        "Code.exe",
        "Microsoft Corporation",
        "Visual Studio Code",
        "Other",
        ("1.94.2", "1.95.3"),
        (1.0, 1.0),
        0.2,
        0.8,
        0.5,
        0.003,
        1.0,
        False,
        (("Code.exe", "1.95.3", "0xC0000005"),),
    ),
    App(
        "explorer.exe",
        "Microsoft Corporation",
        "Windows Explorer",
        "Other",
        ("10.0.22621.4317",),
        (1.0,),
        1.0,
        0.9,
        0.15,
        0.002,
        1.0,
        False,
        (
            ("shell32.dll", "10.0.22621.4317", "0xC0000005"),
            ("windows.storage.dll", "10.0.22621.4317", "0xC0000409"),
        ),
    ),
)
APPS_BY_NAME: dict[str, App] = {a.name: a for a in APPS}

BUGCHECKS: tuple[str, ...] = (
    "0x0000009F",
    "0x000000D1",
    "0x0000007E",
    "0x00000050",
    "0x0000003B",
    "0x00000133",
    "0x00000116",
    "0x000000EF",
)
BACKGROUND_PROCESSES: tuple[tuple[str, str], ...] = (
    ("MsMpEng.exe", "Microsoft Corporation"),
    ("OneDrive.exe", "Microsoft Corporation"),
    ("CcmExec.exe", "Microsoft Corporation"),
    ("SearchIndexer.exe", "Microsoft Corporation"),
    ("msedge.exe", "Microsoft Corporation"),
    ("ms-teams.exe", "Microsoft Corporation"),
)
TIMEZONES: tuple[tuple[str, int], ...] = (
    ("+01:00", 60),
    ("+00:00", 0),
    ("-05:00", -300),
    ("+05:30", 330),
    ("-08:00", -480),
    ("+09:00", 540),
)
TIMEZONE_WEIGHTS: tuple[float, ...] = (0.4, 0.15, 0.2, 0.1, 0.1, 0.05)
