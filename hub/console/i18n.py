"""The console's words in Vietnamese (the default) and English: one small catalogue, key → (vi, en).

Templates call ``t("key")``; a key missing from the catalogue shows as itself (and a test lists the
keys the templates use, so none goes missing). State and event names (``queued``, ``delivery.dead``)
are public words of the hub and are shown as they are, with a translated gloss where useful.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
LANG_COOKIE = "lienthong_lang"

CATALOGUE: dict[str, tuple[str, str]] = {
    # frame
    "console": ("Bảng điều khiển trục liên thông", "Hub operations console"),
    "overview": ("Tổng quan", "Overview"),
    "exchange_log": ("Nhật ký trao đổi", "Exchange log"),
    "timeline": ("Dòng thời gian hồ sơ", "Dossier timeline"),
    "dead_deliveries": ("Gửi không thành công", "Failed deliveries"),
    "deliveries": ("Chuyển phát", "Deliveries"),
    "alerts": ("Cảnh báo", "Alerts"),
    "reports": ("Báo cáo", "Reports"),
    "peers": ("Hệ thống bên ngoài", "Peers"),
    "setup": ("Cấu hình", "Setup"),
    "setup_participants": ("Đơn vị tham gia", "Participants"),
    "setup_routes": ("Tuyến chuyển", "Routes"),
    "setup_certificates": ("Chứng thư số", "Certificates"),
    "setup_hint": (
        "Chỉ để xem. Thay đổi cấu hình trong thư mục config/ rồi khởi động lại trục.",
        "Read only. Change the files in config/ and restart the hub.",
    ),
    "participant_id": ("Mã định danh", "Id"),
    "participant_name": ("Tên đơn vị", "Name"),
    "participant_kind": ("Loại", "Kind"),
    "receives_by": ("Nhận qua địa chỉ", "Receives at"),
    "profile": ("Mức kiểm tra đầu vào", "Inbound profile"),
    "kind_agency": ("Cơ quan, đơn vị", "Agency"),
    "kind_partner": ("Đối tác bên ngoài", "Partner"),
    "kind_operator": ("Người vận hành", "Operator"),
    "kind_hub": ("Trục liên thông", "The hub"),
    "route_name": ("Tên tuyến", "Route"),
    "cert_role": ("Vai trò", "Role"),
    "role_hub": ("Chứng thư của trục", "The hub's certificate"),
    "role_trust_anchor": ("CA gốc tin cậy", "Trust anchor"),
    "role_intermediate": ("CA trung gian", "Intermediate CA"),
    "days_left": ("Số ngày còn hiệu lực", "Days left"),
    "peers_hint": (
        "Tình trạng kết nối tới các hệ thống bên ngoài mà trục gọi đến. Hệ thống bên ngoài ngừng hoạt động "
        "không làm trục ngừng tiếp nhận; văn bản chờ và được gửi lại.",
        "Reachability of the outside systems the hub calls. An outside system down does not stop intake; "
        "documents wait and are retried.",
    ),
    "endpoint": ("Địa chỉ", "Endpoint"),
    "reachable": ("Kết nối", "Reachable"),
    "up": ("Hoạt động", "Up"),
    "down": ("Không phản hồi", "Down"),
    "last_success": ("Gửi thành công gần nhất", "Last success"),
    "inbox_adapter": ("đơn vị tự lấy văn bản", "recipients pull their documents"),
    "ledger": ("Sổ cái", "Ledger"),
    "logout": ("Đăng xuất", "Log out"),
    "signed_in_as": ("Đăng nhập:", "Signed in as"),
    "language": ("Ngôn ngữ", "Language"),
    # login
    "login": ("Đăng nhập", "Log in"),
    "operator_id": ("Mã người vận hành", "Operator id"),
    "password": ("Mật khẩu", "Password"),
    "login_failed": ("Sai mã hoặc mật khẩu.", "Wrong id or password."),
    "login_locked": (
        "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {seconds} giây.",
        "Too many failed logins. Please try again in {seconds} seconds.",
    ),
    "login_hint": (
        "Dành cho người vận hành trục. Mọi thao tác được ghi vào sổ cái.",
        "For the hub's operators. Every action is recorded in the ledger.",
    ),
    # overview
    "messages_last_hour": ("Văn bản trong 1 giờ qua", "Messages in the last hour"),
    "per_minute": ("mỗi phút", "per minute"),
    "failures_last_hour": ("Lỗi chuyển phát trong 1 giờ qua", "Delivery failures in the last hour"),
    "queue_depth": ("Đang chờ chuyển", "Queue depth"),
    "oldest_undelivered": ("Chờ gửi lâu nhất", "Oldest undelivered push"),
    "dead_now": ("Đang gửi không thành công", "Failed deliveries now"),
    "waiting_in_inbox": ("Chờ đơn vị tự lấy lâu nhất", "Oldest waiting in a pull inbox"),
    "waiting": ("Đang chờ", "Waiting"),
    "times_in": ("Giờ hiển thị:", "Times shown in"),
    "auto_refresh": ("Tự làm mới mỗi 30 giây", "Refreshes every 30 seconds"),
    "ledger_events": ("Sự kiện trong sổ cái", "Ledger events"),
    "last_hours": ("6 giờ qua (mỗi cột 10 phút)", "Last 6 hours (10-minute bars)"),
    "by_type": ("Theo loại văn bản", "By document type"),
    "by_adapter": ("Theo bộ kết nối", "By adapter"),
    "received": ("Đã nhận", "Received"),
    "failed": ("Lỗi", "Failed"),
    "last_hour": ("trạng thái hiện tại và kết quả 1 giờ qua", "now waiting, and outcomes of the last hour"),
    "recent_alerts": ("Cảnh báo gần đây", "Recent alerts"),
    "none": ("Không có", "None"),
    "seconds": ("giây", "seconds"),
    # exchange log
    "filter": ("Lọc", "Filter"),
    "clear": ("Bỏ lọc", "Clear"),
    "since": ("Từ", "From"),
    "until": ("Đến", "Until"),
    "participant": ("Đơn vị", "Participant"),
    "type": ("Loại", "Type"),
    "state": ("Trạng thái", "State"),
    "adapter": ("Bộ kết nối", "Adapter"),
    "correlation_key": ("Số hồ sơ / mã văn bản", "Dossier number / document id"),
    "any": ("(tất cả)", "(any)"),
    "received_at": ("Thời điểm nhận", "Received at"),
    "sender": ("Nơi gửi", "Sender"),
    "recipients": ("Nơi nhận", "Recipients"),
    "older": ("Cũ hơn →", "Older →"),
    "newest": ("← Mới nhất", "← Newest"),
    "no_messages": ("Không có văn bản nào khớp.", "No message matches."),
    "search": ("Tìm", "Search"),
    "search_hint": ("Số hồ sơ, mã văn bản hoặc mã thông điệp", "Dossier number, document id or message id"),
    # message
    "message": ("Thông điệp", "Message"),
    "metadata": ("Thông tin", "Metadata"),
    "submitted_by": ("Người nộp", "Submitted by"),
    "digest": ("SHA-256 bản gốc", "SHA-256 of the original"),
    "document_digest": ("SHA-256 bản chuyển", "SHA-256 as delivered"),
    "size": ("Kích thước", "Size"),
    "warnings": ("Lưu ý về định dạng", "Format notes"),
    "signature": ("Chữ ký số", "Signature"),
    "signature_valid": ("Hợp lệ", "Valid"),
    "signature_invalid": ("Không hợp lệ", "Not valid"),
    "signature_none": ("Không có chữ ký", "No signature"),
    "signer": ("Người ký", "Signer"),
    "certificate": ("Chứng thư số", "Certificate"),
    "issuer": ("Cơ quan cấp", "Issuer"),
    "serial": ("Số hiệu", "Serial"),
    "valid_from": ("Hiệu lực từ", "Valid from"),
    "valid_until": ("Hiệu lực đến", "Valid until"),
    "algorithm": ("Thuật toán", "Algorithm"),
    "reason": ("Lý do", "Reason"),
    "attempts": ("Lần thử", "Attempts"),
    "attempt": ("Lần", "Attempt"),
    "peer_reference": ("Mã bên nhận", "Peer's reference"),
    "last_error": ("Lỗi gần nhất", "Last error"),
    "peer_answer": ("Trả lời của bên nhận", "Peer's answer"),
    "document": ("Văn bản", "Document"),
    "attachments": ("Tệp đính kèm", "Attachments"),
    "download_document": ("Tải văn bản", "Download document"),
    "download_receipt": ("Tải biên nhận", "Download receipt"),
    "events": ("Sự kiện", "Events"),
    "replay": ("Xử lý lại", "Replay"),
    "replay_confirm": (
        "Xử lý lại văn bản gốc thành một thông điệp mới (theo tuyến và tin cậy hiện hành)?",
        "Run the original document through the hub again as a new message?",
    ),
    "retry": ("Gửi lại", "Retry"),
    "see_timeline": ("Xem dòng thời gian hồ sơ", "See the dossier timeline"),
    "replay_of": ("Xử lý lại từ", "Replay of"),
    # timeline
    "timeline_of": ("Dòng thời gian của", "Timeline of"),
    "nothing_about": ("Không có gì về", "Nothing about"),
    "at": ("Lúc", "At"),
    "event": ("Sự kiện", "Event"),
    "details": ("Chi tiết", "Details"),
    # deliveries
    "updated_at": ("Cập nhật", "Updated"),
    "recipient": ("Nơi nhận", "Recipient"),
    "no_deliveries": ("Không có chuyển phát nào.", "No delivery."),
    "retried": ("Đã xếp hàng gửi lại", "Queued again"),
    "retried_many": ("Đã xếp hàng gửi lại {count} chuyển phát", "{count} deliveries queued again"),
    "recipient_name": ("Đơn vị nhận", "Recipient"),
    "failing_since": ("Lỗi từ", "Failing since"),
    "next_attempt": ("Lần thử tiếp theo", "Next attempt"),
    "what_to_do": ("Cần làm gì", "What to do"),
    "retry_all": ("Gửi lại tất cả chuyển phát đang lọc", "Retry every delivery matching the filter"),
    "retry_all_confirm": (
        "Gửi lại ngay mọi chuyển phát khớp bộ lọc này?",
        "Send every delivery matching this filter again now?",
    ),
    "hint_credentials": (
        "Trục thiếu hoặc sai tài khoản/khoá để gửi tới hệ thống này: bổ sung trong cấu hình bộ kết nối "
        "(config/adapters.yaml) cùng đơn vị quản lý hệ thống đó, khởi động lại trục rồi bấm Gửi lại.",
        "The hub lacks valid credentials for this system: add or correct them in the adapter's "
        "configuration (config/adapters.yaml) with that system's owner, restart the hub, then Retry.",
    ),
    "hint_expired": (
        "Yêu cầu đã hết hạn: gửi lại cũng không được. Đề nghị đơn vị gửi lập yêu cầu mới.",
        "The request has expired: sending it again cannot succeed. Ask the sender for a new one.",
    ),
    "hint_refused": (
        "Bên nhận từ chối hẳn văn bản này (xem lý do). Gửi lại sẽ không có tác dụng: liên hệ đơn vị "
        "gửi để sửa và gửi văn bản mới.",
        "The receiver refused this document for good (see the reason). Retrying will not help: ask "
        "the sender to correct it and send a new document.",
    ),
    "hint_unreachable": (
        "Hệ thống nhận không phản hồi (mất kết nối hoặc đang bảo trì). Xem trang Hệ thống bên ngoài; "
        "khi hệ thống hoạt động lại, bấm Gửi lại.",
        "The receiving system does not answer (down or unreachable). See the Peers page; once it is "
        "back, Retry.",
    ),
    "hint_peer-error": (
        "Hệ thống nhận báo lỗi tạm thời. Xem lời trả lời của bên nhận; có thể Gửi lại.",
        "The receiving system reported a temporary error. Read its answer; Retry may help.",
    ),
    "not_found": ("Không tìm thấy", "Not found"),
    "not_found_detail": ("Không có mục nào với mã này:", "Nothing has this id:"),
    "back_to_overview": ("Về trang tổng quan", "Back to the overview"),
    # alerts
    "operator_actions": ("Thao tác của người vận hành", "Operators' actions"),
    "no_alerts": ("Không có cảnh báo.", "No alert."),
    "alert_status": ("Tình trạng", "Status"),
    "alert_open": ("Đang mở", "Open"),
    "alert_resolved": ("Đã tự hết", "Resolved"),
    "alert_acknowledged": ("Đã tiếp nhận xử lý", "Acknowledged"),
    "acknowledge": ("Tiếp nhận xử lý", "Acknowledge"),
    "by": ("bởi", "by"),
    # ledger
    "integrity": ("Tính toàn vẹn của sổ cái", "Ledger integrity"),
    "ledger_intact": ("Toàn vẹn", "Intact"),
    "ledger_broken": ("Bị phá vỡ", "Broken"),
    "never_verified": ("Chưa kiểm tra lần nào.", "Never verified yet."),
    "verify_now": ("Kiểm tra ngay", "Verify now"),
    "events_checked": ("Số sự kiện đã kiểm", "Events checked"),
    "first_bad_event": ("Sự kiện hỏng đầu tiên", "First bad event"),
    "verified_at": ("Kiểm tra lúc", "Verified at"),
    "verified_by": ("Người kiểm tra", "Verified by"),
}

# The hub's public words (states, event kinds), glossed; the word itself is shown beside the gloss.
STATES: dict[str, tuple[str, str]] = {
    "accepted": ("Đã tiếp nhận", "Accepted"),
    "refused": ("Bị từ chối", "Refused"),
    "queued": ("Chờ gửi", "Queued"),
    "delivering": ("Đang gửi", "Delivering"),
    "delivered": ("Đã chuyển", "Delivered"),
    "retrying": ("Đang thử lại", "Retrying"),
    "dead": ("Gửi không thành công", "Failed"),
    "overdue": ("Quá hạn", "Overdue"),
}
KINDS: dict[str, tuple[str, str]] = {
    "message.received": ("Đã nhận văn bản", "Document received"),
    "message.accepted": ("Đã tiếp nhận", "Accepted"),
    "message.refused": ("Bị từ chối", "Refused"),
    "message.duplicate": ("Gửi trùng", "Duplicate"),
    "message.replayed": ("Đã xử lý lại", "Replayed"),
    "delivery.queued": ("Xếp hàng gửi", "Queued"),
    "delivery.delivering": ("Đang gửi", "Delivering"),
    "delivery.delivered": ("Đã chuyển", "Delivered"),
    "delivery.retrying": ("Lỗi, sẽ thử lại", "Failed, will retry"),
    "delivery.dead": ("Gửi không thành công", "Delivery failed"),
    "ledger.verified": ("Kiểm tra sổ cái", "Ledger verified"),
    "alert.delivery-dead": ("Gửi không thành công", "Delivery failed"),
    "alert.peer-down": ("Hệ thống bên ngoài không phản hồi", "Outside system not answering"),
    "alert.certificate-expiring": ("Chứng thư số sắp hết hạn", "Certificate expiring"),
    "alert.ledger-broken": ("Sổ cái bị sửa đổi", "Ledger tampered with"),
    "alert.parcel-stalled": ("Bưu gửi bị chậm", "Parcel stalled"),
    "alert.payment-expired": ("Yêu cầu thanh toán đã hết hạn", "Payment request expired"),
    "alert.payment-late": ("Thanh toán về muộn", "Late payment"),
    "alert.payment-duplicate": ("Thanh toán trùng", "Payment made twice"),
    "alert.payment-disputed": ("Thanh toán có khiếu nại", "Payment disputed"),
    "alert.payment-discrepancy": ("Đối soát lệch", "Reconciliation discrepancy"),
    "operator.login": ("Đăng nhập", "Login"),
    "operator.logout": ("Đăng xuất", "Logout"),
    "operator.login-refused": ("Đăng nhập sai", "Login refused"),
    "operator.login-throttled": ("Tạm khoá đăng nhập", "Login locked"),
    "operator.retry": ("Gửi lại", "Retry"),
    "operator.bulk-retry": ("Gửi lại hàng loạt", "Bulk retry"),
    "operator.replay": ("Xử lý lại", "Replay"),
    "alert-acknowledged": ("Tiếp nhận cảnh báo", "Alert acknowledged"),
    "alert-resolved": ("Cảnh báo đã tự hết", "Alert resolved"),
}

FIELDS: dict[str, tuple[str, str]] = {
    "recipient": ("Nơi nhận", "Recipient"),
    "adapter": ("Bộ kết nối", "Adapter"),
    "attempts": ("Số lần đã thử", "Attempts"),
    "error": ("Lỗi", "Error"),
    "dead_event": ("Sự kiện số", "Event no."),
    "url": ("Địa chỉ", "URL"),
    "down_since": ("Không phản hồi từ", "Down since"),
    "detail": ("Chi tiết", "Detail"),
    "role": ("Vai trò", "Role"),
    "subject": ("Chủ thể", "Subject"),
    "serial": ("Số hiệu", "Serial"),
    "not_after": ("Hết hạn lúc", "Expires at"),
    "days_left": ("Còn (ngày)", "Days left"),
    "order_number": ("Mã đơn hàng", "Order number"),
    "item_code": ("Mã bưu gửi", "Item code"),
    "dossier_number": ("Số hồ sơ", "Dossier number"),
    "agency": ("Đơn vị", "Agency"),
    "deadline": ("Hạn bị trễ", "Deadline missed"),
    "last_state": ("Trạng thái cuối", "Last state"),
    "reason": ("Lý do", "Reason"),
    "operator": ("Người vận hành", "Operator"),
    "client": ("Máy khách", "Client"),
    "by": ("Người thực hiện", "By"),
    "raised_event": ("Cảnh báo số", "Alert no."),
    "count": ("Số lượng", "Count"),
    "state": ("Trạng thái", "State"),
    "seconds": ("Số giây", "Seconds"),
    "replay": ("Thông điệp mới", "New message"),
    "note": ("Ghi chú", "Note"),
    "gateway": ("Cổng thanh toán", "Payment gateway"),
    "reference": ("Mã giao dịch", "Transaction reference"),
    "request_id": ("Mã yêu cầu thanh toán", "Payment request id"),
    "amount": ("Số tiền (đồng)", "Amount (VND)"),
    "expires_at": ("Hạn thanh toán", "Pay by"),
    "payment_no": ("Số giao dịch của cổng", "Gateway's payment number"),
    "confirmation": ("Thông điệp xác nhận", "Confirmation message"),
    "source": ("Nguồn", "Source"),
}


def glossary(lang: str) -> Callable[[str, str], str]:
    """``gloss("state", "dead")`` / ``gloss("kind", "delivery.dead")``: the word in `lang`, or the
    word itself when it has no entry (an adapter's own event kinds)."""
    index = LANGUAGES.index(lang) if lang in LANGUAGES else 0
    tables = {"state": STATES, "kind": KINDS, "field": FIELDS}

    def gloss(table: str, word: str) -> str:
        found = tables[table].get(word)
        return found[index] if found else word

    return gloss


def translator(lang: str) -> Callable[[str], str]:
    index = LANGUAGES.index(lang) if lang in LANGUAGES else 0

    def t(key: str) -> str:
        found = CATALOGUE.get(key)
        return found[index] if found else key

    return t
