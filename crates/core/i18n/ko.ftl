# clubhost가 보내는 알림 (이메일, Slack, Discord)의 한국어 문자열. en.ftl의 모든 키가 여기에도
# 있어야 합니다 (테스트가 확인합니다). 회원에게 가는 알림은 그 회원이 포털에서 마지막으로 쓴 언어로
# (언어 전환, 또는 로그인할 때 페이지의 언어), 관리자와 동아리 채널에는 동아리 언어(`[club] language`)로 보냅니다.

note-request-subject = 새 호스팅 신청: { $slug }
note-request-body = { $owner } 님이 { $slug } ({ $name }) 프로젝트를 { $days }일 동안 호스팅하겠다고 신청했습니다.
note-approved-subject = { $slug } 승인됨
note-approved-body = 프로젝트 { $slug }이(가) 승인되어 배포 중입니다. 기간은 { $end }에 끝납니다.
note-rejected-subject = { $slug } 승인되지 않음
note-rejected-body = { $slug } 신청이 거절되었습니다: { $reason }
note-withdrawn-subject = 신청 취소: { $slug }
note-withdrawn-body = { $owner } 님이 { $slug } ({ $name }) 신청을 취소했습니다.
note-expired-subject = { $slug } 기간 만료
note-expired-body = 프로젝트 { $slug }의 기간이 끝났습니다 ({ $reason }). 관리자가 복원할 수 있도록 데이터를 { $grace } 동안 보관한 뒤 완전히 삭제합니다. 데이터(볼륨은 tar, 데이터베이스는 SQL, 아카이브 하나)는 { $backups } 에서 내려받으세요.
note-sent-back-subject = { $slug }: 수정 요청
note-sent-back-body =
    관리자가 { $slug } 신청을 돌려보냈습니다: { $note }
    포털의 "내 프로젝트"에서 수정한 뒤 다시 신청하세요 (또는 신청을 취소하세요).
note-resubmitted-subject = 다시 신청됨: { $slug }
note-resubmitted-body = { $owner } 님이 돌려받은 { $slug } ({ $name }) 신청을 수정해서 다시 제출했습니다.
note-reminder-subject = { $slug } 기간이 { $ahead } 뒤 끝납니다
note-reminder-body = { $slug }의 호스팅 기간이 { $end }에 끝납니다. 계속 운영하려면 기간 연장을 신청하세요 (clubhost project renew { $slug } --days N --reason ...). 어느 쪽이든 데이터는 회원님의 것입니다. 백업(볼륨은 tar, 데이터베이스는 SQL, 아카이브 하나)은 { $backups } 에서 내려받을 수 있습니다.
note-purged-subject = { $slug } 삭제됨
note-purged-body = { $slug }의 보관 기간이 끝나 데이터를 삭제했습니다.
note-restored-subject = { $slug } 복원됨
note-restored-body = 관리자가 { $slug }을(를) 데이터와 함께 복원했습니다. 새 기간은 { $end }에 끝납니다.
note-renewal-subject = { $slug } 기간 연장 신청 #{ $id }
note-renewal-body = { $name } 님이 { $slug }의 종료일을 { $from }에서 { $to }(으)로 옮겨 달라고 신청했습니다: { $reason }
note-renewed-subject = { $slug } 기간 연장됨
note-renewed-body = { $slug } 기간 연장이 승인되었습니다. 이제 { $end }에 끝납니다.
note-declined-subject = { $slug } 기간 연장 거절됨
note-declined-body = { $slug } 기간 연장이 거절되었습니다: { $note }
note-term-moved-subject = { $slug }: 종료일 변경
note-term-moved-body = 관리자가 { $slug }의 호스팅 종료일을 { $from }에서 { $to }(으)로 바꾸었습니다.
note-failed-subject = { $slug } 배포 실패
note-failed-body = { $slug } 배포에 실패했습니다: { $reason }
