import Agent
import ArgumentParser

@main
struct Celldrift: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "celldrift",
        abstract: "Battery cell-consistency watchdog for an EV telematics gateway.",
        discussion: """
            Reads BMS frames from CAN logs (candump -L, Vector ASC, PCAN TRC, SavvyCAN/GVRET CSV, \
            PCAN text; .gz too) and decodes them with the pack's DBC (decode, convert, dbc, encode); \
            simulates packs with injected faults for tests and training (simulate); keeps alarms in a \
            SQLite outbox until the cloud acknowledges them (outbox).
            """,
        version: "celldrift \(Build.version)",
        subcommands: [DecodeCommand.self, EncodeCommand.self, ConvertCommand.self, DBCCommand.self, SimulateCommand.self, FeaturesCommand.self, ReplayCommand.self, OutboxCommand.self, ReportCommand.self,
                      TrainCommand.self, EvaluateCommand.self, PredictCommand.self, RunCommand.self, CheckConfigCommand.self]
    )
}
