import Glibc

/// A real mosquitto broker on 127.0.0.1 for the length of a test, on a free port below the kernel's
/// ephemeral range (a port the kernel handed out could come back as some client's source port).
final class TestBroker {
    let port: Int
    private let process: pid_t
    private let directory: String

    init() throws {
        directory = try temporaryDirectory("broker")
        var chosen = 0
        for _ in 0..<200 where chosen == 0 {
            let candidate = Int.random(in: 10_000..<30_000)
            if canBind(candidate) { chosen = candidate }
        }
        guard chosen > 0 else { throw TestFailure("no free port for the broker") }
        port = chosen
        let config = "\(directory)/mosquitto.conf"
        try writeFile(config, "listener \(port) 127.0.0.1\nallow_anonymous true\npersistence false\n")
        let executable = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].first { (path: String) in access(path, X_OK) == 0 } ?? "mosquitto"
        var pid: pid_t = 0
        let arguments = [executable, "-c", config]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "\(directory)/mosquitto.err", O_WRONLY | O_CREAT, 0o644)
        // The test's thread blocks signals (the test runner's threads do), and a child inherits the mask:
        // without an empty one, mosquitto would never see the SIGTERM that ends it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        guard posix_spawn(&pid, executable, &actions, &attributes, &argv, environ) == 0 else {
            throw TestFailure("cannot start \(executable)")
        }
        process = pid
        for _ in 0..<100 {
            if canConnect(port) { return }
            usleep(50_000)
        }
        throw TestFailure("mosquitto did not listen on 127.0.0.1:\(port) within 5 s")
    }

    deinit {
        kill(process, SIGTERM)
        var status: Int32 = 0
        waitpid(process, &status, 0)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A fresh directory under this test process's own, which goes when the process exits (hundreds were
/// left in /tmp by earlier runs).
func temporaryDirectory(_ name: String) throws -> String {
    if mkdir(testProcessDirectory(), 0o700) == 0 {
        atexit { removeTree(testProcessDirectory()) }
    }
    var template = Array("\(testProcessDirectory())/\(name)-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
    return String(cString: made)
}

private func testProcessDirectory() -> String { "/tmp/celldrift-tests-\(getpid())" }

/// Removes `path` and, when it is a directory (not a link to one), all under it.
private func removeTree(_ path: String) {
    var status = stat()
    if lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR, let directory = opendir(path) {
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != ".", name != ".." { removeTree("\(path)/\(name)") }
        }
        closedir(directory)
    }
    remove(path)
}

func writeFile(_ path: String, _ text: String) throws {
    guard let file = fopen(path, "w") else { throw TestFailure("cannot write \(path)") }
    fputs(text, file)
    fclose(file)
}

private func withAddress<T>(_ port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

private func canBind(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    return withAddress(port) { bind(fd, $0, $1) } == 0
}

func canConnect(_ port: Int) -> Bool {
    guard let fd = try? connectTo(port) else { return false }
    close(fd)
    return true
}

/// A TCP connection to 127.0.0.1:`port`, for the caller to close.
func connectTo(_ port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard withAddress(port, { connect(fd, $0, $1) }) == 0 else {
        close(fd)
        throw TestFailure("cannot connect to 127.0.0.1:\(port)")
    }
    return fd
}

/// One HTTP/1.1 request to 127.0.0.1:`port`, answered while `serve` turns the loop that answers it:
/// the status and the body.
func httpRequest(_ port: Int, _ request: String, serve: () -> Void) throws -> (status: Int, body: String) {
    let fd = try connectTo(port)
    defer { close(fd) }
    _ = request.withCString { write(fd, $0, strlen($0)) }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    for _ in 0..<200 {
        serve()
        let count = read(fd, &chunk, chunk.count)
        if count > 0 { response += chunk[0..<count] } else if count == 0 { break }
    }
    let text = String(decoding: response, as: UTF8.self)
    let headerEnd = response.indices.first { response[$0...].starts(with: [13, 10, 13, 10]) }
    guard let statusText = text.split(separator: " ").dropFirst().first, let status = Int(statusText), let headerEnd else {
        throw TestFailure("no HTTP answer: \(text)")
    }
    return (status, String(decoding: response[(headerEnd + 4)...], as: UTF8.self))
}
