import CAN
import Logging

/// The bus read directly (`[socketcan] interface`), filtered in the kernel to the mapped messages' ids.
/// An interface that goes down is reopened every couple of seconds until it is back; the other sources
/// are served meanwhile.
final class SocketCANSource {
    let link: SocketCANLink
    private let pipelines: VehiclePipelines
    private let vehicle: String
    private let log: Logger

    init(link: SocketCANLink, pipelines: VehiclePipelines, vehicle: String, log: Logger) {
        self.link = link
        self.pipelines = pipelines
        self.vehicle = vehicle
        self.log = log
    }

    /// For the loop's poll; nil while the interface is down.
    var descriptor: Int32? { link.descriptor }

    /// Everything readable now, into the vehicle's pipeline.
    func read(now: Double) {
        switch link.read(now: now, { _ = pipelines.take(&$0, vehicle: vehicle) }) {
        case .down(let reason): log.error("socketcan: \(reason); retrying every \(Int(link.retryInterval)) s")
        case .up: log.notice("socketcan: \(link.interface) is back")
        case nil: break
        }
    }
}
