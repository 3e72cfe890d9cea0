use super::*;

#[test]
fn wait_statuses_decode_to_outcomes_and_shell_codes() {
    assert_eq!(decode(3 << 8), Outcome::Exited(3));
    assert_eq!(
        decode(libc::SIGKILL),
        Outcome::KilledBySignal(libc::SIGKILL)
    );
    assert_eq!(Outcome::Exited(3).exit_code(), 3);
    assert_eq!(Outcome::KilledBySignal(9).exit_code(), 137);
    assert_eq!(Outcome::TimedOut.exit_code(), 124);
}
