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
    "dead_deliveries": ("Chuyển phát lỗi", "Dead deliveries"),
    "deliveries": ("Chuyển phát", "Deliveries"),
    "alerts": ("Cảnh báo", "Alerts"),
    "reports": ("Báo cáo", "Reports"),
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
    "oldest_undelivered": ("Chờ lâu nhất", "Oldest undelivered"),
    "dead_now": ("Chuyển phát lỗi hiện có", "Dead deliveries now"),
    "ledger_events": ("Sự kiện trong sổ cái", "Ledger events"),
    "last_hours": ("6 giờ qua (mỗi cột 10 phút)", "Last 6 hours (10-minute bars)"),
    "by_type": ("Theo loại văn bản", "By document type"),
    "by_adapter": ("Theo bộ kết nối", "By adapter"),
    "received": ("Đã nhận", "Received"),
    "failed": ("Lỗi", "Failed"),
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
    "warnings": ("Cảnh báo hồ sơ", "Warnings"),
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
    "replay": ("Chạy lại", "Replay"),
    "replay_confirm": ("Chạy lại thông điệp này thành thông điệp mới?", "Replay this message as a new one?"),
    "retry": ("Gửi lại", "Retry"),
    "see_timeline": ("Xem dòng thời gian hồ sơ", "See the dossier timeline"),
    "replay_of": ("Chạy lại từ", "Replay of"),
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
    # alerts
    "operator_actions": ("Thao tác của người vận hành", "Operators' actions"),
    "no_alerts": ("Không có cảnh báo.", "No alert."),
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


def translator(lang: str) -> Callable[[str], str]:
    index = LANGUAGES.index(lang) if lang in LANGUAGES else 0

    def t(key: str) -> str:
        found = CATALOGUE.get(key)
        return found[index] if found else key

    return t
