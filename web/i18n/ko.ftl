# 포털의 한국어 문자열. en.ftl의 모든 키가 여기에도 있어야 합니다 (테스트가 확인합니다).
# 키: <페이지 또는 부분>-<내용>. 변수: { $name }.

## 모든 페이지
site-name = clubhost
skip-to-content = 본문으로 건너뛰기
nav-label = 포털
nav-gallery = 갤러리
nav-request = 호스팅 신청
nav-projects = 내 프로젝트
nav-join = 채팅 참여
nav-menu = 메뉴
nav-admin = 관리
nav-admin-dashboard = 대시보드
nav-admin-queue = 심사 대기열
nav-admin-projects = 전체 프로젝트
nav-admin-members = 회원
nav-admin-routes = 라우트
nav-admin-certificates = 인증서
nav-admin-audit = 감사 기록
nav-account = 계정 ({ $name })
nav-logout = 로그아웃
nav-login = 로그인
nav-signup = 가입하기
lang-switch = 언어
lang-unknown = 포털은 "{ $code }" 언어를 지원하지 않습니다. 영어(en)와 한국어(ko)를 지원합니다.

## 공통 입력 칸과 프로젝트 용어
field-password = 비밀번호
field-email = 이메일
project-state = 상태:
project-permanent = 상시 운영
project-term-ends = { $date }에 기간 종료
project-last-failed = 마지막 배포 실패: { $reason }
project-history = 기록
project-history-entry = { $actor }: { $action }

## 프로젝트 상태
state-requested = 신청됨
state-changes-requested = 수정 요청됨
state-approved = 승인됨
state-deploying = 배포 중
state-running = 운영 중
state-failed = 실패
state-stopped = 중지됨
state-expired = 기간 만료
state-rejected = 거절됨
state-withdrawn = 신청 취소됨
state-purged = 삭제됨

## 로그인, 가입, 계정
login-title = 로그인
login-name-or-email = 이름 또는 이메일
login-no-account = 아직 계정이 없나요?
signup-title = 가입하기
signup-name = 이름 (프로젝트 소유자로 표시됩니다)
signup-password = 비밀번호 (10자 이상)
signup-invite = 동아리 초대 코드
signup-submit = 계정 만들기
account-title = 내 계정
account-email = 이메일: { $email }
account-change-password = 비밀번호 변경
account-current-password = 현재 비밀번호
account-new-password = 새 비밀번호 (10자 이상)

## 내 프로젝트
mine-submitted = 신청이 접수되었습니다. 관리자가 검토할 예정입니다.
mine-resubmitted = 다시 신청했습니다. 심사 대기열로 돌아갔습니다.
mine-sent-back = 관리자가 이 신청을 돌려보냈습니다:
mine-edit-resubmit = 수정해서 다시 신청하기
mine-template = 스택: { $template } 템플릿.
mine-checker-problem = 검사 결과: { $problem }
mine-checker-ok = 검사 결과: 스택이 통과했습니다.
mine-what-deployed = 배포될 내용
mine-backups = 백업
backups-title = { $slug } 백업
backups-intro = 백업마다 프로젝트 설정, 각 볼륨의 파일(tar 아카이브), 그리고 데이터베이스를 쓰는 프로젝트라면 데이터베이스 덤프(SQL)가 들어 있습니다. 비밀 변수는 내려받는 파일에 포함되지 않습니다.
backups-none = 아직 백업이 없습니다.
backups-heading = 백업 { $id }
backups-taken = { $when }에 만듦 · { $bytes }바이트
backups-archive = 전체 내려받기 (.tar 아카이브 하나)
backups-files = 파일 하나씩
backups-file-bytes = ({ $bytes }바이트)
backups-back = 내 프로젝트로 돌아가기
mine-withdraw = 신청 취소
mine-redeploy = 다시 배포
mine-logs-download = 최근 로그 내려받기
mine-logs-live = 실시간 로그 보기
mine-none = 아직 프로젝트가 없습니다.
mine-request-slot = 호스팅 신청하기

## 프로젝트 페이지
project-latest-deploy = 최근 배포
project-no-deploy = 서버가 마지막으로 시작된 뒤 배포한 적이 없습니다.
project-actions = 작업
project-files = 파일
project-files-git = git 저장소 { $url }에서 가져옴
project-files-branch = 브랜치: { $ref }
project-files-upload = 올린 파일(폴더 또는 압축 파일)에서 가져옴
project-files-revision = 리비전 { $revision }
project-files-commit = 커밋 { $commit }
project-files-deployed = 최신 리비전이 배포될 때까지 리비전 { $revision }이(가) 서비스됩니다.
project-pull = 새로 가져와 다시 배포
project-webhook = 웹훅
project-webhook-help = 푸시할 때마다 다시 배포하려면 저장소 설정에서 이 주소를 웹훅으로 추가하고(콘텐츠 형식 JSON, 푸시 이벤트) 아래 시크릿을 시크릿으로 넣으세요. 시크릿을 ?token=으로 붙인 단순 POST 요청도 됩니다.
project-webhook-show = 시크릿 보기
project-webhook-title = { $slug }의 웹훅
project-webhook-url = 주소
project-webhook-secret = 시크릿
project-webhook-keep = 시크릿은 남에게 알리지 마세요. 시크릿을 가진 사람은 누구나 이 프로젝트를 새로 가져와 다시 배포하게 할 수 있습니다.
project-webhook-new = 새 시크릿 만들기
project-webhook-new-help = 이전 시크릿은 바로 쓸 수 없게 됩니다. 새 시크릿을 저장소 호스팅 서비스에 다시 넣어 주세요.
project-back = 프로젝트로 돌아가기

## 기간 연장
renewal-to = { $date }까지 연장:
renewal-request = 기간 연장 신청
renewal-new-end = 새 종료일 (최대 { $date }까지)
renewal-why = 계속 운영해야 하는 이유
renewal-state-pending = 검토 중
renewal-state-approved = 승인됨
renewal-state-rejected = 거절됨

## 회원 (관리자)
users-name = 이름
users-role = 역할
users-admin = 관리자
users-member = 회원
users-disabled = (비활성)
users-demote = 관리자 해제
users-promote = 관리자로 지정
users-enable = 활성화
users-disable = 비활성화
users-cli-note = `clubhost user add`로 만든 계정은 `clubhost user passwd NAME`으로 비밀번호를 정합니다 (표준 입력에서 읽습니다).

## 감사 기록 (관리자)
audit-project = 프로젝트 (슬러그)
audit-user = 사용자
audit-filter = 거르기
audit-when = 시각
audit-who = 누가
audit-project-col = 프로젝트
audit-action = 작업
audit-reason = 사유

## 전체 프로젝트 (관리자)
all-containers = 컨테이너
all-service = 서비스
all-status = 상태
all-memory = 메모리
all-cpu = CPU
all-none = 프로젝트가 없습니다.

## 기간 연장 신청 (관리자)
renewals-title = 기간 연장 신청
renewals-by = #{ $id } · 신청자 { $name }
renewals-term-end = 종료일:
renewals-note = 메모 (선택)
renewals-approve = 연장 승인
renewals-deny-reason = 거절 사유
renewals-deny = 연장 거절
renewals-none = 기다리는 연장 신청이 없습니다.

## 라우트 (관리자)
routes-intro = 프록시가 지금 제공하는 경로입니다.
routes-path = 경로
routes-target = 연결 대상
routes-answering = 응답
routes-nothing = 없음 ({ $why })
routes-yes = 예
routes-no = 아니오

## 프로젝트에 대한 관리자 작업
admin-expire-now = 지금 만료
admin-term-move = 종료일 변경 (연장 또는 단축)
admin-term-move-until = 종료일 변경 (연장 또는 단축, 최대 { $date }까지)
admin-term-set = 종료일 저장
admin-restore-days = 데이터와 함께 복원, 새 기간 (일; 비우면 원래 기간)
admin-restore = 복원
admin-temporary = 다시 기간제로 되돌리기
admin-permanent = 상시 운영으로 지정
# HTML로 표시됩니다: 슬러그는 [a-z0-9-]만 허용됩니다.
admin-delete-confirm = 볼륨까지 삭제하려면 <code>{ $slug }</code>를 입력하세요
admin-delete = 삭제

## 동아리 첫 페이지와 갤러리
front-join = 가입 방법
front-member = 동아리 회원입니다.
front-invite-hint = 가입할 때 동아리 초대 코드가 필요합니다. 회원이나 관리자에게 받으세요.
front-members-can = 회원은 자기 프로젝트를 위한 호스팅을 신청할 수 있습니다.
front-chat-after-signin = (로그인한 회원에게 초대 링크를 드립니다).
gallery-title = 동아리가 호스팅하는 프로젝트
gallery-sort-label = 갤러리 정렬
gallery-sort = 정렬:
gallery-filter-label = 회원별로 보기
gallery-member = 회원:
gallery-by = 만든 사람: { $owner }
gallery-source = 소스 코드
gallery-member-none = { $member } 님은 지금 운영 중인 프로젝트가 없습니다.
gallery-none = 아직 호스팅 중인 프로젝트가 없습니다.

## 거절과 안내
message-back = 이전 페이지로 돌아가기
message-front = 포털 첫 페이지
message-portal = 포털로 돌아가기

## 채팅 참여
chat-title = 동아리 채팅 참여
chat-open = 초대 링크 열기
chat-copy = 또는 이 링크를 복사하세요:
chat-personal = 이 초대 링크는 회원님만을 위해 만들었습니다. 한 번, { $minutes }분 동안만 쓸 수 있습니다. 다른 사람에게 넘기지 말고 새 회원은 이 페이지로 안내해 주세요.
chat-per-member = 동아리는 회원마다 초대 링크를 따로 만듭니다. 한 번, { $minutes }분 동안만 쓸 수 있습니다.
chat-make = 내 초대 링크 만들기
chat-none = 동아리가 아직 채팅 초대 링크를 정하지 않았습니다 ([portal] chat_invite_url). 관리자에게 문의하세요.

## What a request's build will do (the review card)
review-build = 빌드할 내용 (리비전 { $revision }의 파일)
review-build-service = 서비스 { $service }은(는) { $dockerfile }(으)로 빌드됩니다
review-build-target = 단계 { $target }
review-build-args = 빌드 인자:
review-build-no-args = 빌드 인자가 없습니다.
review-dockerfile = { $service }의 Dockerfile
review-dockerfile-truncated = 처음 64KiB만 보여 줍니다.
review-copied = 컨테이너에 복사되는 프로젝트 파일:
review-files = 파일 { $count }개, 모두 { $size }
review-files-largest = 가장 큰 파일:
review-files-all = 모든 파일
review-files-more = … 외 { $count }개
## 회원의 도메인(프로젝트 페이지)과 관리자의 인증서 페이지
domains-title = 내 도메인
domains-intro = 이 프로젝트를 내 도메인으로도 열 수 있습니다. 도메인의 DNS(A 또는 AAAA 레코드)가 동아리 서버를 가리키게 한 뒤 여기에 추가하고 확인을 누르세요. 동아리가 그 도메인에서 아래 확인 주소를 직접 불러 보고, 응답이 맞으면 도메인을 이 프로젝트로 연결한 다음 HTTPS 인증서를 받습니다.
domains-name = 도메인
domains-add = 도메인 추가
domains-verified = 확인됨, 연결됨
domains-pending = 확인 대기 중
domains-proof = 도메인이 동아리 서버를 가리키면 동아리가 이 확인 주소에 직접 응답합니다:
domains-check = 지금 확인
domains-remove = 삭제
domains-check-failed = 마지막 확인 실패: { $reason }
certs-dashboard-link = HTTPS 인증서와 회원 도메인
certs-https-off = HTTPS가 꺼져 있습니다([proxy] https_listen 미설정). 인증서를 발급받지 않습니다.
certs-name = 이름
certs-issuer = 발급자
certs-expires = 만료
certs-renews = 다음 갱신
certs-last-error = 마지막 오류
certs-not-issued = 아직 발급 전
certs-none = 아직 인증서가 없습니다.
certs-domains = 회원 도메인
certs-project = 프로젝트
certs-state = 상태
certs-no-domains = 자기 도메인을 쓰는 프로젝트가 없습니다.
