"""Each vehicle's BMS speaks its own DBC: the layouts a fleet meets (multiplexed big-endian 12-bit mV
cells on 11-bit ids, one Intel message per four cells in volts on 29-bit ids, multiplexed Intel mV on
29-bit ids), written with cantools so the bit positions are cantools' own, and the celldrift mapping
(docs/mapping.md) that goes with each."""
import math

import cantools
from cantools.database.can import Database, Message, Signal
from cantools.database.conversion import BaseConversion

LAYOUTS = ["mux_motorola_mv", "intel_v_29bit", "mux_intel_mv_29bit"]


def signal(name, start, length, scale=1.0, offset=0.0, unit="", signed=False, big_endian=False, minimum=None,
           maximum=None, mux_ids=None, mux_signal=None, is_mux=False):
    return Signal(name, start, length, byte_order="big_endian" if big_endian else "little_endian", is_signed=signed,
                  conversion=BaseConversion.factory(scale=scale, offset=offset), unit=unit, minimum=minimum,
                  maximum=maximum, multiplexer_ids=mux_ids, multiplexer_signal=mux_signal, is_multiplexer=is_mux)


class Layout:
    """A DBC for `cells` cells and `sensors` temperature sensors, its frames and its mapping.

    `pages` lists the frames of one refresh of the cells (message name, multiplexer value or None, and
    the cell indices it carries); `temperature_pages` likewise for the sensors."""

    def __init__(self, kind, cells, sensors, balancing=False):
        self.kind, self.cells, self.sensors = kind, cells, sensors
        getattr(self, "_" + kind)()
        self.balancing = None
        if balancing:
            self._balancing()
        self.database = Database(messages=self.messages)
        self.text = self.database.as_dbc_string()
        # Encode with the database as parsed back from the text: what every reader of the file sees.
        self.database = cantools.database.load_string(self.text, database_format="dbc")

    def _mux_motorola_mv(self):
        # Light-EV style: 11-bit ids, 4 cells of 12 bits per page (1 mV, 1000 mV offset), big-endian.
        self.cell_name = "Cell{index:02}_Voltage"
        self.cell_base = 1
        self.sensor_name = "Temp{index}"
        self.sensor_base = 1
        self.current_positive = "charge"
        self.voltage_resolution, self.temperature_resolution = 0.001, 1.0
        pages = math.ceil(self.cells / 4)
        signals = [signal("CV_Page", 7, 8, big_endian=True, is_mux=True)]
        self.pages = []
        for page in range(pages):
            carried = list(range(page * 4, min(self.cells, page * 4 + 4)))
            for slot, cell in enumerate(carried):
                start = [15, 19, 39, 43][slot]
                signals.append(signal(self.cell_name.format(index=cell + 1), start, 12, 1, 1000, "mV", big_endian=True,
                                      minimum=1000, maximum=5095, mux_ids=[page], mux_signal="CV_Page"))
            self.pages.append(("BMS_CellVoltages", "CV_Page", page, carried))
        cell_message = Message(0x3C0, "BMS_CellVoltages", 8, signals, senders=["BMS"])
        signals = [signal("T_Page", 7, 8, big_endian=True, is_mux=True)]
        self.temperature_pages = []
        for page in range(math.ceil(self.sensors / 7)):
            carried = list(range(page * 7, min(self.sensors, page * 7 + 7)))
            for slot, sensor in enumerate(carried):
                signals.append(signal(self.sensor_name.format(index=sensor + 1), 15 + 8 * slot, 8, 1, -40, "degC",
                                      big_endian=True, minimum=-40, maximum=215, mux_ids=[page], mux_signal="T_Page"))
            self.temperature_pages.append(("BMS_Temperatures", "T_Page", page, carried))
        temperature_message = Message(0x3C8, "BMS_Temperatures", 8, signals, senders=["BMS"])
        status = Message(0x3B0, "BMS_Status", 8, [
            signal("Pack_Current", 7, 16, 0.1, 0, "A", signed=True, big_endian=True, minimum=-3276.8, maximum=3276.7),
            # 0.01 V steps reach 655 V: a pack of more than 150 cells is sent in 0.1 V steps.
            signal("Pack_Voltage", 23, 16, 0.01 if self.cells <= 150 else 0.1, 0, "V", big_endian=True, minimum=0,
                   maximum=655.35 if self.cells <= 150 else 6553.5),
            signal("Pack_SoC", 39, 8, 0.5, 0, "%", big_endian=True, minimum=0, maximum=127.5),
        ], senders=["BMS"])
        self.status = ("BMS_Status", "Pack_Current", "Pack_Voltage", "Pack_SoC", 0.1)
        self.messages = [status, cell_message, temperature_message]

    def _intel_v_29bit(self):
        # One message per four cells, 16-bit Intel volts (1 mV), 29-bit ids; sensors in 0.1 °C.
        self.cell_name = "CellV_{index:03}"
        self.cell_base = 0
        self.sensor_name = "SensorT_{index:02}"
        self.sensor_base = 0
        self.current_positive = "discharge"
        self.voltage_resolution, self.temperature_resolution = 0.001, 0.1
        self.messages, self.pages, self.temperature_pages = [], [], []
        for block in range(math.ceil(self.cells / 4)):
            carried = list(range(block * 4, min(self.cells, block * 4 + 4)))
            name = f"CellBlock_{block:02d}"
            self.messages.append(Message(0x18F01000 + block, name, 8, [
                signal(self.cell_name.format(index=cell), 16 * slot, 16, 0.001, 0, "V", minimum=0, maximum=65.535)
                for slot, cell in enumerate(carried)], senders=["BMS"], is_extended_frame=True))
            self.pages.append((name, None, None, carried))
        for block in range(math.ceil(self.sensors / 4)):
            carried = list(range(block * 4, min(self.sensors, block * 4 + 4)))
            name = f"TempBlock_{block:02d}"
            self.messages.append(Message(0x18F02000 + block, name, 8, [
                signal(self.sensor_name.format(index=sensor), 16 * slot, 16, 0.1, 0, "degC", signed=True,
                       minimum=-3276.8, maximum=3276.7) for slot, sensor in enumerate(carried)],
                senders=["BMS"], is_extended_frame=True))
            self.temperature_pages.append((name, None, None, carried))
        self.messages.insert(0, Message(0x18F00001, "PackStatus", 8, [
            signal("Current", 0, 16, 0.05, 0, "A", signed=True, minimum=-1638.4, maximum=1638.35),
            signal("Voltage", 16, 16, 0.1, 0, "V", minimum=0, maximum=6553.5),
            signal("SOC", 32, 16, 0.01, 0, "%", minimum=0, maximum=100),
        ], senders=["BMS"], is_extended_frame=True))
        self.status = ("PackStatus", "Current", "Voltage", "SOC", 0.05)

    def _mux_intel_mv_29bit(self):
        # Multiplexed Intel, three 16-bit mV cells per page, 29-bit ids; current in mA steps.
        self.cell_name = "U_Cell_{index}"
        self.cell_base = 1
        self.sensor_name = "T_Sensor_{index}"
        self.sensor_base = 1
        self.current_positive = "charge"
        self.voltage_resolution, self.temperature_resolution = 0.001, 0.5
        signals = [signal("CellMux", 0, 8, is_mux=True)]
        self.pages = []
        for page in range(math.ceil(self.cells / 3)):
            carried = list(range(page * 3, min(self.cells, page * 3 + 3)))
            for slot, cell in enumerate(carried):
                signals.append(signal(self.cell_name.format(index=cell + 1), 8 + 16 * slot, 16, 1, 0, "mV",
                                      minimum=0, maximum=65535, mux_ids=[page], mux_signal="CellMux"))
            self.pages.append(("BatteryCells", "CellMux", page, carried))
        cells = Message(0x1CA00100, "BatteryCells", 8, signals, senders=["BMS"], is_extended_frame=True)
        signals = [signal("TempMux", 0, 8, is_mux=True)]
        self.temperature_pages = []
        for page in range(math.ceil(self.sensors / 6)):
            carried = list(range(page * 6, min(self.sensors, page * 6 + 6)))
            for slot, sensor in enumerate(carried):
                signals.append(signal(self.sensor_name.format(index=sensor + 1), 8 + 8 * slot, 8, 0.5, -40, "degC",
                                      minimum=-40, maximum=87.5, mux_ids=[page], mux_signal="TempMux"))
            self.temperature_pages.append(("BatteryTemps", "TempMux", page, carried))
        temperatures = Message(0x1CA00200, "BatteryTemps", 8, signals, senders=["BMS"], is_extended_frame=True)
        status = Message(0x1CA00010, "BatteryStatus", 8, [
            signal("BattCurrent", 0, 32, 0.001, 0, "A", signed=True, minimum=-2147483.648, maximum=2147483.647),
            signal("BattVoltage", 32, 16, 0.02, 0, "V", minimum=0, maximum=1310.7),
            signal("BattSoC", 48, 8, 0.4, 0, "%", minimum=0, maximum=102),
        ], senders=["BMS"], is_extended_frame=True)
        self.status = ("BatteryStatus", "BattCurrent", "BattVoltage", "BattSoC", 0.001)
        self.messages = [status, cells, temperatures]

    def _balancing(self):
        # One message of flags (a BMS with a balancing board): the pack's "balancing" bit, then one
        # "is bleeding" bit per cell, named in the layout's own style; once a second with the status.
        names = {"mux_motorola_mv": ("Bal_Active", "Cell{index:02}_Bleed", 0x3D0, False),
                 "intel_v_29bit": ("BalancingActive", "CellBal_{index:03}", 0x18F03000, True),
                 "mux_intel_mv_29bit": ("BalActive", "B_Cell_{index}", 0x1CA00300, True)}
        active, self.balancing_name, frame_id, extended = names[self.kind]
        if self.cells > 63:
            raise ValueError(f"{self.cells} cells: one balancing message carries 63")
        signals = [signal(active, 0, 1)] + [signal(self.balancing_name.format(index=cell + self.cell_base), cell + 1, 1)
                                            for cell in range(self.cells)]
        message = Message(frame_id, "BMS_Balancing", 8, signals, senders=["BMS"], is_extended_frame=extended)
        self.messages.append(message)
        self.balancing = ("BMS_Balancing", active)

    def balancing_signal(self, cell):
        return self.balancing_name.format(index=cell + self.cell_base)

    def cell_signal(self, cell):
        return self.cell_name.format(index=cell + self.cell_base)

    def sensor_signal(self, sensor):
        return self.sensor_name.format(index=sensor + self.sensor_base)

    def quantize_voltage(self, volts):
        return (volts / self.voltage_resolution).round() * self.voltage_resolution

    def quantize_temperature(self, celsius):
        return (celsius / self.temperature_resolution).round() * self.temperature_resolution

    def mapping(self, dbc_file, settings, balancing_current_a=None):
        """The vehicle's celldrift config: its DBC and pack mapping, then the pipeline settings."""
        lines = [f'# {self.kind}: written by scripts/fleet (docs/fleet.md)', f'dbc = "{dbc_file}"', "", "[pack]",
                 f"cells = {self.cells}", f'cell_voltage = "{self.cell_name}"', f"cell_voltage_index_base = {self.cell_base}",
                 f'cell_temperature = "{self.sensor_name}"', f"cell_temperature_count = {self.sensors}",
                 f"cell_temperature_index_base = {self.sensor_base}", f'current = "{self.status[1]}"',
                 f'current_positive = "{self.current_positive}"', f'voltage = "{self.status[2]}"', f'soc = "{self.status[3]}"']
        if self.balancing:
            lines += [f'balancing = "{self.balancing[1]}"', f'cell_balancing = "{self.balancing_name}"',
                      f"cell_balancing_index_base = {self.cell_base}", f"balancing_current_a = {balancing_current_a:.4f}"]
        lines += ["", ""]
        return "\n".join(lines) + settings
