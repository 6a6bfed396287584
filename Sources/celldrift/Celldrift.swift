import ArgumentParser

@main
struct Celldrift: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "celldrift",
        abstract: "Battery cell-consistency watchdog for an EV telematics gateway.",
        discussion: """
            Reads BMS frames from CAN logs (candump -L, Vector ASC, PCAN TRC, SavvyCAN/GVRET CSV, \
            PCAN text; .gz too), decodes them with the pack's DBC, and writes what it finds as JSON.
            """,
        subcommands: [DecodeCommand.self, EncodeCommand.self, ConvertCommand.self, DBCCommand.self, SimulateCommand.self, OutboxCommand.self]
    )
}
