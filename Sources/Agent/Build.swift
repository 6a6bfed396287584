/// What this build is: `celldrift --version` and the daemon's `celldrift_build_info` metric.
public enum Build {
    /// Raised with each change that users see (docs/daemon.md, "Versions").
    public static let version = "0.9.0"
}
