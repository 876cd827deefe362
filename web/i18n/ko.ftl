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
nav-admin-queue = 심사 대기열
nav-admin-projects = 전체 프로젝트
nav-admin-members = 회원
nav-admin-routes = 라우트
nav-admin-audit = 감사 기록
nav-account = 계정 ({ $name })
nav-logout = 로그아웃
nav-login = 로그인
nav-signup = 가입하기
lang-switch = 언어
lang-unknown = 포털은 "{ $code }" 언어를 지원하지 않습니다. 영어(en)와 한국어(ko)를 지원합니다.
