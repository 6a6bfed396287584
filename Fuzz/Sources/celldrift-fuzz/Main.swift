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
/// `-fork=N` and `-jobs=N` start workers with the options alone, so the target is also passed down in
/// CELLDRIFT_FUZZ_TARGET, which a worker reads when its first argument is not a target.
@main struct FuzzMain {
    static let targetVariable = "CELLDRIFT_FUZZ_TARGET"

    static func main() {
        let arguments = CommandLine.arguments
        let named = arguments.count >= 2 ? Target(rawValue: arguments[1]) : nil
        let inherited = getenv(targetVariable).flatMap { Target(rawValue: String(cString: $0)) }
        guard let target = named ?? inherited else {
            let names = Target.allCases.map(\.rawValue).joined(separator: ", ")
            print("usage: celldrift-fuzz TARGET [libFuzzer options] [corpus]; targets: \(names)")
            fflush(nil)
            _exit(2)  // not exit(): the leak checker would report the usage text, which is never freed
        }
        selected = target
        setenv(targetVariable, target.rawValue, 1)
        _ = Scratch.shared
        // The driver sees the program name and what follows the target.
        var argv = CommandLine.unsafeArgv
        var argc = CommandLine.argc
        if named != nil {
            argv[1] = argv[0]
            argc -= 1
            argv = argv.advanced(by: 1)
        }
        exit(withUnsafeMutablePointer(to: &argv) { pointer in
            runDriver(&argc, pointer) { data, size in
                selected.run(UnsafeBufferPointer(start: data, count: size))
                return 0
            }
        })
    }
}
