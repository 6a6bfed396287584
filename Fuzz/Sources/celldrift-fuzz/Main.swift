#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(_ argc: UnsafeMutablePointer<CInt>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                       _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The target the driver runs, chosen by the first argument.
nonisolated(unsafe) private var selected = Target.dbc

/// `celldrift-fuzz TARGET [libFuzzer options] [corpus or input files]`: libFuzzer's driver with the
/// target's input handling (Targets.swift). Built with `-sanitize=fuzzer,address` (make fuzz).
@main struct FuzzMain {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2, let target = Target(rawValue: arguments[1]) else {
            let names = Target.allCases.map(\.rawValue).joined(separator: ", ")
            print("usage: celldrift-fuzz TARGET [libFuzzer options] [corpus]; targets: \(names)")
            exit(2)
        }
        selected = target
        _ = Scratch.shared
        // The driver sees the program name and what follows the target.
        let argv = CommandLine.unsafeArgv
        argv[1] = argv[0]
        var argc = CommandLine.argc - 1
        var shifted = argv.advanced(by: 1)
        exit(withUnsafeMutablePointer(to: &shifted) { pointer in
            runDriver(&argc, pointer) { data, size in
                selected.run(UnsafeBufferPointer(start: data, count: size))
                return 0
            }
        })
    }
}
