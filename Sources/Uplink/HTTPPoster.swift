import CCurl

/// HTTPS POSTs through libcurl's multi interface (libcurl opened when the first poster is made), one at a time and never blocking: `post` starts one,
/// `poll` moves it on and returns its outcome once it is done. TLS with a CA file and a client
/// certificate; only http and https are allowed.
public final class HTTPPoster {
    public struct Settings: Sendable {
        public var url: String
        public var caFile: String?
        public var certificateFile: String?
        public var keyFile: String?
        /// Sent as `Authorization: Bearer <token>`.
        public var bearerToken: String?
        /// Seconds for the whole request, and for the connection alone.
        public var timeout = 30
        public var connectTimeout = 10

        public init(url: String) { self.url = url }
    }

    public enum Outcome: Equatable, Sendable {
        /// The server answered with this status (and the start of its body).
        case status(Int, String)
        /// No answer: what went wrong (connection refused, TLS, timeout).
        case failed(String)
    }

    public let settings: Settings
    private let multi: UnsafeMutableRawPointer
    private var easy: UnsafeMutableRawPointer?
    private var headers: UnsafeMutablePointer<curl_slist>?
    /// The body libcurl reads from while the request runs (it does not copy it).
    private var body: UnsafeMutableBufferPointer<CChar>?
    fileprivate var response: [UInt8] = []

    public init(settings: Settings) throws(UplinkError) {
        guard settings.url.hasPrefix("https://") || settings.url.hasPrefix("http://") else {
            throw UplinkError("\(settings.url): the uplink URL must be https:// (or http:// on loopback)")
        }
        if let failure = celldrift_curl_open() {
            throw UplinkError("libcurl (needed by an HTTPS uplink): \(String(cString: failure))")
        }
        guard let multi = celldrift_curl_multi_init() else { throw UplinkError("libcurl: cannot create a transfer") }
        self.settings = settings
        self.multi = multi
    }

    deinit {
        finish()
        celldrift_curl_multi_cleanup(multi)
    }

    public var isBusy: Bool { easy != nil }

    /// Starts a POST of `body` (JSON) with extra header lines ("Name: value").
    public func post(_ text: String, headers extra: [String]) throws(UplinkError) {
        precondition(easy == nil, "one request at a time")
        guard let handle = celldrift_curl_easy_init() else { throw UplinkError("libcurl: cannot create a request") }
        let bytes = text.utf8CString
        let storage = UnsafeMutableBufferPointer<CChar>.allocate(capacity: bytes.count)
        _ = storage.initialize(from: bytes)
        body = storage
        response = []
        headers = nil
        for line in ["Content-Type: application/json", "Expect:"] + extra + (settings.bearerToken.map { ["Authorization: Bearer \($0)"] } ?? []) {
            headers = celldrift_curl_slist_append(headers, line)
        }
        var failed: CURLcode = CURLE_OK
        func set(_ code: CURLcode) { if code != CURLE_OK && failed == CURLE_OK { failed = code } }
        set(celldrift_curl_set_string(handle, CURLOPT_URL, settings.url))
        set(celldrift_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(celldrift_curl_set_long(handle, CURLOPT_NOSIGNAL, 1))
        set(celldrift_curl_set_long(handle, CURLOPT_TIMEOUT, settings.timeout))
        set(celldrift_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT, settings.connectTimeout))
        set(celldrift_curl_set_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headers)))
        set(celldrift_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, storage.count - 1))
        set(celldrift_curl_set_pointer(handle, CURLOPT_POSTFIELDS, storage.baseAddress))
        set(celldrift_curl_set_write_function(handle, collectResponse))
        set(celldrift_curl_set_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(self).toOpaque()))
        if let file = settings.caFile { set(celldrift_curl_set_string(handle, CURLOPT_CAINFO, file)) }
        if let file = settings.certificateFile { set(celldrift_curl_set_string(handle, CURLOPT_SSLCERT, file)) }
        if let file = settings.keyFile { set(celldrift_curl_set_string(handle, CURLOPT_SSLKEY, file)) }
        guard failed == CURLE_OK, celldrift_curl_multi_add(multi, handle) == CURLM_OK else {
            celldrift_curl_easy_cleanup(handle)
            celldrift_curl_slist_free(headers)
            headers = nil
            storage.deallocate()
            body = nil
            throw UplinkError("libcurl: cannot set up the request: \(String(cString: celldrift_curl_strerror(failed)))")
        }
        easy = handle
    }

    /// Moves the request on without waiting; its outcome once it is done, else nil.
    public func poll() -> Outcome? {
        guard let easy else { return nil }
        var running: Int32 = 0
        celldrift_curl_multi_perform(multi, &running)
        var result = CURLE_OK
        guard celldrift_curl_done(multi, easy, &result) != 0 else { return nil }
        let outcome: Outcome = result == CURLE_OK
            ? .status(celldrift_curl_response_code(easy), String(decoding: response.prefix(200), as: UTF8.self))
            : .failed(String(cString: celldrift_curl_strerror(result)))
        finish()
        return outcome
    }

    private func finish() {
        guard let handle = easy else { return }
        celldrift_curl_multi_remove(multi, handle)
        celldrift_curl_easy_cleanup(handle)
        celldrift_curl_slist_free(headers)
        headers = nil
        body?.deallocate()
        body = nil
        easy = nil
    }
}

/// libcurl's write callback: keeps the first kilobyte of the answer (for the error message).
private func collectResponse(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let data, let context else { return 0 }
    let poster = Unmanaged<HTTPPoster>.fromOpaque(context).takeUnretainedValue()
    let bytes = size * count
    if poster.response.count < 1024 {
        poster.response += UnsafeRawBufferPointer(start: data, count: min(bytes, 1024 - poster.response.count))
    }
    return bytes
}
