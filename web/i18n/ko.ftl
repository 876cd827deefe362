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
# 라우트가 아무것도 가리키지 않는 이유 (컨트롤 플레인의 표현, `routes-why-<하이픈으로 이은 단어>`).
routes-why-waiting-for-approval = 승인 대기 중
routes-why-starting = 시작하는 중
routes-why-expired = 기간 만료
routes-why-failed = 실패
routes-why-stopped = 중지됨
routes-why-rejected = 거절됨
routes-why-withdrawn = 신청 취소됨

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
## 호스팅 신청, 수정 후 다시 제출 (request.html, request.js)
request-title = 호스팅 신청
request-edit-title = { $slug } 수정
request-edit-heading = { $slug } 수정 후 다시 제출
request-changes-asked = 관리자가 수정을 요청했습니다
request-name = 프로젝트 이름
request-address = 주소:
request-slug-stays = (슬러그는 바뀌지 않습니다)
request-slug-label = 주소: /슬러그/ (영어 소문자, 숫자, 하이픈)
request-slug-ok = 슬러그: 사용할 수 있습니다.
request-slug-empty = 슬러그: 프로젝트가 쓸 주소를 정해 주세요.
request-slug-available = /{ $slug }/ 주소를 사용할 수 있습니다.
request-description = 설명 (갤러리에 표시됩니다)
request-source = 소스 코드 링크
request-days = 호스팅 기간 (일, 최대 { $days }일)
request-stack-legend = 스택: 동아리의 템플릿 중 하나로 시작하거나, 직접 만든 compose 파일을 가져오세요
request-template-settings = { $template } 설정
request-var-required = (필수)
request-var-secret = : 비밀 값이며 다시 표시되지 않습니다
request-var-stored = ; 비워 두면 저장된 값을 그대로 씁니다
request-own = 직접 만든 compose 파일
request-own-legend = 내 compose 파일
request-paste = 붙여 넣기
request-upload = …또는 파일 올리기 (위의 내용 대신 쓰입니다)
# HTML로 표시됩니다 (변수 없음).
request-example = 예시: <code>x-clubhost</code>가 있는 compose 파일
# HTML로 표시됩니다 (변수 없음).
request-example-hint = <code>x-clubhost</code>는 <code>services:</code>와 나란히 쓰는 최상위 키입니다. 방문자가 접속할 서비스와 그 컨테이너 안에서 듣는 포트를 지정합니다. 없으면 검사기가 추측하고 무엇을 골랐는지 알려 줍니다.
request-archive = …또는 프로젝트 파일 (맨 위에 compose 파일, Dockerfile 또는 index.html이 있어야 합니다)
request-git = …또는 git 저장소 (https://)
request-git-ref = 브랜치 또는 태그 (비워 두면 기본 브랜치)
request-verdict = 검사 결과
request-stack-ok = 스택: 통과했습니다.
request-secrets-hint = 입력한 비밀 값은 "검사" 뒤에도 다시 표시되지 않습니다. 제출하기 전에 다시 입력해 주세요.
request-check = 검사
request-submit = 신청하기
request-resubmit = 다시 신청하기

## 심사 대기열 (관리자)
queue-title = 심사 대기열
queue-by = /{ $slug }/ · 신청자 { $owner }
queue-term = 신청 기간: { $days }일
queue-source = 소스
queue-others = 이 회원의 다른 프로젝트:
queue-others-none = 없음
queue-quota = 할당량: { $quota }.
queue-normalized = 정규화된 스택 (배포될 내용)
queue-sent-back-before = 이전에 돌려보낸 사유: { $note }
queue-as-submitted = 제출된 그대로의 스택
queue-approve = 승인하고 배포
queue-reject-reason = 거절 사유
queue-reject = 거절
queue-note = 회원에게 남길 메모 (바꿔야 할 점)
queue-send-back = 돌려보내기
queue-none = 기다리는 신청이 없습니다.

## 대시보드 (관리자)
dash-title = 대시보드
dash-waiting = 관리자를 기다리는 일
dash-requests = 심사를 기다리는 신청
dash-renewals = 결정을 기다리는 연장 요청
dash-projects = 프로젝트
dash-running = 운영 중
dash-failed = 실패
dash-expiring = { $days }일 안에 종료
dash-term-ends = { $date }에 기간 종료
dash-disk = 디스크: Docker 엔진 전체와 데이터 디렉터리
dash-docker-unknown = Docker의 디스크 사용량을 알 수 없습니다: { $error }
dash-what = 항목
dash-size = 크기
dash-count = 개수
dash-disk-images = 이미지
dash-disk-containers = 컨테이너
dash-disk-volumes = 볼륨
dash-disk-build-cache = 빌드 캐시
dash-disk-data-directory = 데이터 디렉터리
# HTML로 표시됩니다 (변수 없음).
dash-gc = 쓰지 않는 이미지와 삭제된 프로젝트의 잔여물: <code>clubhost gc --images</code>로 확인하고, <code>--apply</code>로 지웁니다.
dash-host = 호스트
dash-memory = 사용 중인 메모리: { $total } 중 { $used }
dash-load = 최근 1분 부하 (CPU { $cpus }개)
dash-host-unknown = 이 환경에서는 호스트의 메모리와 부하를 알 수 없습니다 (/proc 없음).
dash-failures = 최근 실패한 배포
dash-no-failures = 최근에 실패한 배포가 없습니다.

## 갤러리의 기간
gallery-until = { $day }까지 호스팅
gallery-home = 동아리 홈페이지
gallery-no-end = 종료일 없이 호스팅

## 배포 진행 상황 (프로젝트 페이지와 실시간 보기)
progress-now = 프로젝트가 이제 { $state } 상태입니다: 페이지 열기
progress-post-failed = 요청이 실패했습니다. 페이지를 새로 고쳐 프로젝트 상태를 확인하세요.
step-started = 배포 #{ $deployment } 시작 ({ $why })
step-build-queued = { $service } 빌드가 빌드 자리를 기다립니다 (대기열 { $position }번째)
step-building = { $service }용 { $image } 빌드 중
step-build-log = { $service } 빌드 | { $line }
step-built = { $service }용 { $image } 빌드 완료
step-image-ready = { $service }용 이미지 { $image } 준비됨
step-network-created = 네트워크 { $name } 만듦
step-network-there = 네트워크 { $name } 이미 있음
step-volume-created = 볼륨 { $name } 만듦
step-volume-there = 볼륨 { $name } 이미 있음 (데이터 유지)
step-container-created = 컨테이너 { $container } 만듦
step-container-started = { $service } 컨테이너 시작됨
step-wait-ready = { $service } 준비를 기다리는 중
step-wait-healthy = { $service }가 정상 상태가 되기를 기다리는 중
step-wait-completed = { $service } 작업이 끝나기를 기다리는 중
step-wait-listening = { $service }가 { $port }번 포트에서 연결을 받기를 기다리는 중
step-answering = { $service }가 { $port }번 포트에서 응답합니다
step-route = 라우트 { $route } 게시됨
step-running = 배포 완료: 프로젝트가 운영 중입니다
step-failed = 배포 실패: { $reason }
step-failed-serving = 배포 실패: { $reason } (이전 배포가 계속 서비스합니다)

## 거부: 어떤 작업이 실패했는지 (페이지 제목)
refused-admin-page = 이 관리 페이지는 볼 수 없습니다
refused-show-project = “{ $slug }” 프로젝트를 표시할 수 없습니다
refused-show-page = 이 페이지를 표시할 수 없습니다
refused-approve = “{ $slug }” 신청을 승인할 수 없습니다
refused-reject = “{ $slug }” 신청을 거절할 수 없습니다
refused-send-back = “{ $slug }” 신청을 돌려보낼 수 없습니다
refused-stop = “{ $slug }” 프로젝트를 중지할 수 없습니다
refused-expire = “{ $slug }” 프로젝트를 만료시킬 수 없습니다
refused-redeploy = “{ $slug }” 프로젝트를 다시 배포할 수 없습니다
refused-restore = “{ $slug }” 프로젝트를 복원할 수 없습니다
refused-delete = “{ $slug }” 프로젝트를 삭제할 수 없습니다
refused-term = “{ $slug }” 프로젝트의 기간을 바꿀 수 없습니다
refused-project-action = “{ $slug }” 프로젝트에 대한 작업이 실패했습니다
refused-member = 회원 “{ $name }”에 대한 변경이 실패했습니다
refused-withdraw = “{ $slug }” 신청을 취소할 수 없습니다
refused-renewal-decide = 연장 요청을 결정할 수 없습니다
refused-renew = “{ $slug }”의 연장을 요청할 수 없습니다
refused-edit = “{ $slug }”에 대한 변경 사항을 저장할 수 없습니다
refused-request = 신청을 제출할 수 없습니다
refused-join = 채팅 초대를 만들 수 없습니다
refused-account = 비밀번호를 바꿀 수 없습니다
refused-logout = 로그아웃할 수 없습니다
refused-other = 작업이 실패했습니다

## 거부: 프로젝트가 맞지 않는 상태일 때의 이유 ("“blog” 프로젝트는 이미 운영 중입니다. 이제 거절할 수 없습니다.")
refusal-no-longer = “{ $slug }” 프로젝트는 { $now }. 이제 { $wanted } 수 없습니다.
refusal-not-now = “{ $slug }” 프로젝트는 { $now }. 지금은 이 작업을 할 수 없습니다.
refusal-now-requested = 심사를 기다리는 중입니다
refusal-now-changes-requested = 수정을 위해 회원에게 돌려보내졌습니다
refusal-now-approved = 승인되어 곧 배포됩니다
refusal-now-deploying = 배포 중입니다
refusal-now-running = 이미 운영 중입니다
refusal-now-failed = 실패했습니다 (마지막 배포가 성공하지 못했습니다)
refusal-now-stopped = 중지되었습니다
refusal-now-expired = 기간이 만료되었습니다
refusal-now-rejected = 이미 거절되었습니다
refusal-now-withdrawn = 회원이 신청을 취소했습니다
refusal-now-purged = 만료되어 데이터가 삭제되었습니다
refusal-wanted-approved = 승인할
refusal-wanted-rejected = 거절할
refusal-wanted-changes-requested = 돌려보낼
refusal-wanted-requested = 다시 제출할
refusal-wanted-withdrawn = 취소할
refusal-wanted-deploying = 배포할
refusal-wanted-stopped = 중지할
refusal-wanted-expired = 만료시킬
refusal-wanted-purged = 삭제할

## 이번에는 영어로만: 다음은 포털 밖에서 오는 문구라 두 언어 모두 영어 그대로 표시됩니다.
## 스택 검사기의 지적과 경고 (clubhost-stack, `clubhost stack check`와 공유), 정규화된 스택,
## 컨트롤 플레인의 그 밖의 거부 이유 (잘못된 입력 칸, 이미 쓰이는 슬러그, 할당량: clubhost-core,
## CLI와 관리 API와 공유), 실패한 배포의 이유와 빌드 로그 줄, 동아리 템플릿의 제목과 설명
## (stacks/*/).
